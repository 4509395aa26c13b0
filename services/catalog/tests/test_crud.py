"""CRUD of every catalog resource through real gRPC, once against SQLite and once against
PostgreSQL as the control database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from sqlalchemy import select

from fleetjobs.core.db import make_sync_engine
from fleetjobs.core.db.models import ExecutionPolicyRow
from fleetjobs.internal.v1 import catalog_internal_service_pb2 as ipb
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as pb

Code = grpc.StatusCode
WEEK = timedelta(weeks=1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def control_db(request: pytest.FixtureRequest) -> str:
    """Overrides conftest's: this module runs against both control databases."""
    return str(request.getfixturevalue(f"{request.param}_control_db"))


def duration(**kwargs: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromTimedelta(timedelta(**kwargs))
    return value


def make_credential(catalog: Any, *, allowed: tuple[str, ...] = ("*.db.example.com",)) -> str:
    name: str = catalog.unique("cred")
    catalog.stub.CreateCredential(
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=name, username="admin", password="s3cret-pw", allowed_servers=allowed
            )
        )
    )
    return name


def make_content(catalog: Any) -> str:
    name: str = catalog.unique("content")
    catalog.stub.CreateContent(
        pb.CreateContentRequest(
            content=r.Content(name=name, script=r.Script(command_text="SELECT 1"))
        )
    )
    return name


def make_database(catalog: Any, engine: str = "postgresql", **fields: Any) -> r.Target:
    database = {
        "engine": engine,
        "server_name": "pg1.db.example.com",
        "database_name": catalog.unique("db"),
        **fields,
    }
    if engine == "sqlite":
        database["server_name"] = ""
        database["database_name"] = catalog.unique("db") + ".sqlite"
    target: r.Target = catalog.stub.CreateTarget(
        pb.CreateTargetRequest(target=r.Target(database=r.DatabaseTarget(**database)))
    ).target
    return target


def make_collection(catalog: Any) -> r.Target:
    target: r.Target = catalog.stub.CreateTarget(
        pb.CreateTargetRequest(
            target=r.Target(
                custom_collection=r.CustomCollectionTarget(name=catalog.unique("fleet"))
            )
        )
    ).target
    return target


# --- credentials ---------------------------------------------------------------------------


def test_credential_crud(catalog: Any) -> None:
    name = catalog.unique("cred")
    created = catalog.stub.CreateCredential(
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=name,
                username="admin",
                password="first-password",
                allowed_servers=["*.db.example.com", "10.0.0.5"],
            )
        )
    ).credential
    assert created.name == name
    assert created.username == "admin"
    assert list(created.allowed_servers) == ["*.db.example.com", "10.0.0.5"]
    assert created.key_id == catalog.keys.current_key_id()
    assert created.HasField("create_time") and created.HasField("update_time")
    assert created.password == "" and created.encrypted_password == ""

    got = catalog.stub.GetCredential(pb.GetCredentialRequest(name=name)).credential
    assert got == created

    catalog.fails(
        Code.ALREADY_EXISTS,
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(credential=r.Credential(name=name, username="x", password="y")),
    )

    # Without a mask: the fields given are replaced, the others kept.
    updated = catalog.stub.UpdateCredential(
        pb.UpdateCredentialRequest(credential=r.Credential(name=name, username="root"))
    ).credential
    assert updated.username == "root"
    assert list(updated.allowed_servers) == ["*.db.example.com", "10.0.0.5"]
    before = catalog.internal.GetCredentialSecret(_secret_request(name)).encrypted_password

    # With a mask: rotation and clearing the allow-list.
    rotated = catalog.stub.UpdateCredential(
        pb.UpdateCredentialRequest(
            credential=r.Credential(name=name, password="second-password"),
            update_mask=field_mask_pb2.FieldMask(paths=["password", "allowed_servers"]),
        )
    ).credential
    assert rotated.username == "root"
    assert list(rotated.allowed_servers) == []
    assert rotated.password == "" and rotated.encrypted_password == ""
    after = catalog.internal.GetCredentialSecret(_secret_request(name)).encrypted_password
    assert after != before

    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.UpdateCredential,
        pb.UpdateCredentialRequest(credential=r.Credential(name=catalog.unique("nope"))),
    )
    problems = catalog.invalid(
        catalog.stub.UpdateCredential,
        pb.UpdateCredentialRequest(
            credential=r.Credential(name=name),
            update_mask=field_mask_pb2.FieldMask(paths=["name", "password"]),
        ),
    )
    assert set(problems) == {"update_mask.paths[0]", "credential.password"}

    catalog.stub.DeleteCredential(pb.DeleteCredentialRequest(name=name))
    catalog.fails(Code.NOT_FOUND, catalog.stub.GetCredential, pb.GetCredentialRequest(name=name))
    catalog.fails(
        Code.NOT_FOUND, catalog.stub.DeleteCredential, pb.DeleteCredentialRequest(name=name)
    )


def _secret_request(name: str) -> Any:
    from fleetjobs.internal.v1 import catalog_internal_service_pb2 as internal

    return internal.GetCredentialSecretRequest(name=name)


def test_credential_validation(catalog: Any) -> None:
    problems = catalog.invalid(
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name="-bad name",
                password="a",
                encrypted_password="b",
                allowed_servers=["ok.example.com", "http://x/y", "db.example.*"],
            )
        ),
    )
    assert set(problems) == {
        "credential.name",
        "credential.username",
        "credential.password",
        "credential.allowed_servers[1]",
        "credential.allowed_servers[2]",
    }
    assert "not both" in problems["credential.password"]
    problems = catalog.invalid(
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(credential=r.Credential(name="ok", username="u")),
    )
    assert set(problems) == {"credential.password"}


# --- contents ------------------------------------------------------------------------------


def test_content_versions(catalog: Any) -> None:
    name = catalog.unique("content")
    first = catalog.stub.CreateContent(
        pb.CreateContentRequest(
            content=r.Content(name=name, comment="v1", script=r.Script(command_text="SELECT 1"))
        )
    ).content
    assert first.version == 1 and first.comment == "v1"
    catalog.fails(
        Code.ALREADY_EXISTS,
        catalog.stub.CreateContent,
        pb.CreateContentRequest(
            content=r.Content(name=name, script=r.Script(command_text="SELECT 2"))
        ),
    )
    for version in (2, 3):
        new = catalog.stub.UpdateContentDefinition(
            pb.UpdateContentDefinitionRequest(
                name=name,
                script=r.Script(command_text=f"SELECT {version}"),
                comment=f"v{version}",
            )
        ).content
        assert new.version == version

    latest = catalog.stub.GetContent(pb.GetContentRequest(name=name)).content
    assert (latest.version, latest.script.command_text) == (3, "SELECT 3")
    old = catalog.stub.GetContent(pb.GetContentRequest(name=name, version=1)).content
    assert (old.version, old.script.command_text, old.comment) == (1, "SELECT 1", "v1")
    catalog.fails(
        Code.NOT_FOUND, catalog.stub.GetContent, pb.GetContentRequest(name=name, version=9)
    )
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.GetContent,
        pb.GetContentRequest(name=catalog.unique("none")),
    )

    versions = catalog.stub.ListContentVersions(pb.ListContentVersionsRequest(name=name))
    assert [c.version for c in versions.contents] == [3, 2, 1]
    page = catalog.stub.ListContentVersions(pb.ListContentVersionsRequest(name=name, page_size=2))
    assert [c.version for c in page.contents] == [3, 2] and page.next_page_token
    rest = catalog.stub.ListContentVersions(
        pb.ListContentVersionsRequest(name=name, page_size=2, page_token=page.next_page_token)
    )
    assert [c.version for c in rest.contents] == [1] and rest.next_page_token == ""

    listed = _all_pages(
        lambda token: catalog.stub.ListContents(
            pb.ListContentsRequest(page_size=2, page_token=token)
        ),
        "contents",
    )
    mine = [c for c in listed if c.name == name]
    assert [c.version for c in mine] == [3]  # the latest version of each content

    problems = catalog.invalid(
        catalog.stub.CreateContent,
        pb.CreateContentRequest(
            content=r.Content(name=catalog.unique("c"), script=r.Script(command_text="  \n"))
        ),
    )
    assert set(problems) == {"content.script.command_text"}
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.UpdateContentDefinition,
        pb.UpdateContentDefinitionRequest(
            name=catalog.unique("none"), script=r.Script(command_text="SELECT 1")
        ),
    )

    catalog.stub.DeleteContent(pb.DeleteContentRequest(name=name))
    catalog.fails(Code.NOT_FOUND, catalog.stub.GetContent, pb.GetContentRequest(name=name))
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.ListContentVersions,
        pb.ListContentVersionsRequest(name=name),
    )


# --- targets -------------------------------------------------------------------------------


def test_database_targets(catalog: Any) -> None:
    database = catalog.unique("db")
    first = catalog.stub.CreateTarget(
        pb.CreateTargetRequest(
            target=r.Target(
                database=r.DatabaseTarget(
                    engine="postgresql",
                    server_name="PG1.db.example.com",
                    port=0,
                    database_name=database,
                    options={"sslmode": "require"},
                )
            )
        )
    ).target
    assert first.target_id and first.WhichOneof("kind") == "database"
    assert first.database.options["sslmode"] == "require"

    # Same database: server name case and the default port do not make it another target.
    same = catalog.stub.CreateTarget(
        pb.CreateTargetRequest(
            target=r.Target(
                database=r.DatabaseTarget(
                    engine="postgresql",
                    server_name="pg1.DB.example.com",
                    port=5432,
                    database_name=database,
                    options={"sslmode": "require"},
                )
            )
        )
    ).target
    assert same.target_id == first.target_id
    other = catalog.stub.CreateTarget(
        pb.CreateTargetRequest(
            target=r.Target(
                database=r.DatabaseTarget(
                    engine="postgresql",
                    server_name="pg1.db.example.com",
                    port=5433,
                    database_name=database,
                    options={"sslmode": "require"},
                )
            )
        )
    ).target
    assert other.target_id != first.target_id

    got = catalog.stub.GetTarget(pb.GetTargetRequest(target_id=first.target_id)).target
    assert got == first
    catalog.stub.DeleteTarget(pb.DeleteTargetRequest(target_id=other.target_id))
    catalog.fails(
        Code.NOT_FOUND, catalog.stub.GetTarget, pb.GetTargetRequest(target_id=other.target_id)
    )
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.DeleteTarget,
        pb.DeleteTargetRequest(target_id=other.target_id),
    )


def test_target_validation(catalog: Any) -> None:
    problems = catalog.invalid(
        catalog.stub.CreateTarget,
        pb.CreateTargetRequest(
            target=r.Target(
                database=r.DatabaseTarget(
                    engine="oracle", port=70000, options={"Password": "x", "PWD": "y"}
                )
            )
        ),
    )
    assert set(problems) == {
        "target.database.engine",
        "target.database.server_name",
        "target.database.port",
        "target.database.database_name",
        "target.database.options[Password]",
        "target.database.options[PWD]",
    }
    for engine in ("postgresql", "mysql", "sqlite", "mssql", "odbc"):
        assert engine in problems["target.database.engine"]

    problems = catalog.invalid(
        catalog.stub.CreateTarget,
        pb.CreateTargetRequest(
            target=r.Target(
                database=r.DatabaseTarget(engine="sqlite", database_name="../escape.db")
            )
        ),
    )
    assert set(problems) == {"target.database.database_name"}
    problems = catalog.invalid(
        catalog.stub.CreateTarget,
        pb.CreateTargetRequest(
            target=r.Target(database=r.DatabaseTarget(engine="sqlite", database_name="/etc/passwd"))
        ),
    )
    assert set(problems) == {"target.database.database_name"}
    problems = catalog.invalid(catalog.stub.CreateTarget, pb.CreateTargetRequest())
    assert set(problems) == {"target.kind"}

    error = catalog.fails(
        Code.UNIMPLEMENTED,
        catalog.stub.CreateTarget,
        pb.CreateTargetRequest(
            target=r.Target(shard_map=r.ShardMapTarget(engine="mssql", server_name="x"))
        ),
    )
    assert "planned" in error.details()
    catalog.fails(
        Code.UNIMPLEMENTED,
        catalog.stub.CreateTarget,
        pb.CreateTargetRequest(target=r.Target(server=r.ServerTarget(engine="postgresql"))),
    )


def test_collections(catalog: Any) -> None:
    fleet = make_collection(catalog)
    name = fleet.custom_collection.name
    assert fleet.child_count == 0
    catalog.fails(
        Code.ALREADY_EXISTS,
        catalog.stub.CreateTarget,
        pb.CreateTargetRequest(
            target=r.Target(custom_collection=r.CustomCollectionTarget(name=name))
        ),
    )

    members = [make_database(catalog) for _ in range(5)]
    for member in members:
        reply = catalog.stub.AddChildTarget(
            pb.AddChildTargetRequest(custom_collection_name=name, child_target_id=member.target_id)
        )
    assert reply.target.child_count == 5
    # Adding twice is a no-op.
    again = catalog.stub.AddChildTarget(
        pb.AddChildTargetRequest(custom_collection_name=name, child_target_id=members[0].target_id)
    ).target
    assert again.child_count == 5
    assert (
        catalog.stub.GetTarget(pb.GetTargetRequest(target_id=fleet.target_id)).target.child_count
        == 5
    )

    # Direct children, paginated two by two in creation order.
    pages = []
    token = ""
    while True:
        page = catalog.stub.ListTargets(
            pb.ListTargetsRequest(parent_target_id=fleet.target_id, page_size=2, page_token=token)
        )
        pages.append([t.target_id for t in page.targets])
        token = page.next_page_token
        if not token:
            break
    assert pages == [
        [m.target_id for m in members[0:2]],
        [m.target_id for m in members[2:4]],
        [members[4].target_id],
    ]

    # Nesting is allowed; self-containment and cycles are not.
    inner = make_collection(catalog)
    inner_name = inner.custom_collection.name
    catalog.stub.AddChildTarget(
        pb.AddChildTargetRequest(custom_collection_name=name, child_target_id=inner.target_id)
    )
    problems = catalog.invalid(
        catalog.stub.AddChildTarget,
        pb.AddChildTargetRequest(custom_collection_name=name, child_target_id=fleet.target_id),
    )
    assert set(problems) == {"child_target_id"}
    problems = catalog.invalid(
        catalog.stub.AddChildTarget,
        pb.AddChildTargetRequest(
            custom_collection_name=inner_name, child_target_id=fleet.target_id
        ),
    )
    assert "cycle" in problems["child_target_id"]

    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.AddChildTarget,
        pb.AddChildTargetRequest(
            custom_collection_name=catalog.unique("none"), child_target_id=members[0].target_id
        ),
    )
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.AddChildTarget,
        pb.AddChildTargetRequest(
            custom_collection_name=name, child_target_id="00000000-0000-4000-8000-000000000000"
        ),
    )
    catalog.invalid(
        catalog.stub.ListTargets, pb.ListTargetsRequest(parent_target_id=members[0].target_id)
    )

    removed = catalog.stub.RemoveChildTarget(
        pb.RemoveChildTargetRequest(
            custom_collection_name=name, child_target_id=members[1].target_id
        )
    ).target
    assert removed.child_count == 5  # four databases and the inner collection
    # Deleting a database target takes it out of its collections.
    catalog.stub.DeleteTarget(pb.DeleteTargetRequest(target_id=members[2].target_id))
    children = catalog.stub.ListTargets(pb.ListTargetsRequest(parent_target_id=fleet.target_id))
    assert [t.target_id for t in children.targets] == [
        members[0].target_id,
        members[3].target_id,
        members[4].target_id,
        inner.target_id,
    ]
    assert [t.child_count for t in children.targets][-1] == 0

    everything = _all_pages(
        lambda token: catalog.stub.ListTargets(
            pb.ListTargetsRequest(page_size=2, page_token=token)
        ),
        "targets",
    )
    ids = [t.target_id for t in everything]
    assert len(ids) == len(set(ids))
    assert fleet.target_id in ids and members[1].target_id in ids
    listed_fleet = next(t for t in everything if t.target_id == fleet.target_id)
    assert listed_fleet.child_count == 4


# --- execution policies --------------------------------------------------------------------


def test_default_policy(catalog: Any) -> None:
    default = catalog.stub.GetExecutionPolicy(
        pb.GetExecutionPolicyRequest(name="default")
    ).execution_policy
    assert default.job_timeout.ToTimedelta() == WEEK
    assert default.initial_retry_interval.ToTimedelta() == timedelta(milliseconds=100)
    assert default.maximum_retry_interval.ToTimedelta() == timedelta(minutes=30)
    assert default.retry_interval_backoff_coefficient == 2.0
    assert default.maximum_attempts == 2147483647
    assert list(default.non_retryable_error_classes) == []

    names = [
        p.name
        for p in _all_pages(
            lambda token: catalog.stub.ListExecutionPolicies(
                pb.ListExecutionPoliciesRequest(page_size=2, page_token=token)
            ),
            "execution_policies",
        )
    ]
    assert names.count("default") == 1

    catalog.fails(
        Code.ALREADY_EXISTS,
        catalog.stub.CreateExecutionPolicy,
        pb.CreateExecutionPolicyRequest(execution_policy=r.ExecutionPolicy(name="default")),
    )
    catalog.fails(
        Code.FAILED_PRECONDITION,
        catalog.stub.UpdateExecutionPolicy,
        pb.UpdateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(name="default", maximum_attempts=3)
        ),
    )
    catalog.fails(
        Code.FAILED_PRECONDITION,
        catalog.stub.DeleteExecutionPolicy,
        pb.DeleteExecutionPolicyRequest(name="default"),
    )


def test_policy_inherits_default(catalog: Any) -> None:
    name = catalog.unique("policy")
    created = catalog.stub.CreateExecutionPolicy(
        pb.CreateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(
                name=name, maximum_attempts=3, non_retryable_error_classes=["syntax_error"]
            )
        )
    ).execution_policy
    assert created.maximum_attempts == 3
    assert created.job_timeout.ToTimedelta() == WEEK  # inherited
    assert created.retry_interval_backoff_coefficient == 2.0
    assert list(created.non_retryable_error_classes) == ["syntax_error"]

    # Unset fields are stored as NULL, so they follow default.
    engine = make_sync_engine(catalog.control_db_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(ExecutionPolicyRow).where(ExecutionPolicyRow.name == name)
            ).one()
    finally:
        engine.dispose()
    assert row.maximum_attempts == 3
    assert row.job_timeout_ms is None and row.retry_interval_backoff_coefficient is None

    updated = catalog.stub.UpdateExecutionPolicy(
        pb.UpdateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(name=name, job_timeout=duration(hours=1))
        )
    ).execution_policy
    assert updated.job_timeout.ToTimedelta() == timedelta(hours=1)
    assert updated.maximum_attempts == 3  # kept: not given, no mask

    reset = catalog.stub.UpdateExecutionPolicy(
        pb.UpdateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(name=name),
            update_mask=field_mask_pb2.FieldMask(paths=["maximum_attempts"]),
        )
    ).execution_policy
    assert reset.maximum_attempts == 2147483647  # back to inheriting
    assert reset.job_timeout.ToTimedelta() == timedelta(hours=1)

    # initial ≤ maximum is judged on effective values: 1 h against default's 30 min.
    problems = catalog.invalid(
        catalog.stub.CreateExecutionPolicy,
        pb.CreateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(
                name=catalog.unique("p"), initial_retry_interval=duration(hours=1)
            )
        ),
    )
    assert set(problems) == {"execution_policy.initial_retry_interval"}
    problems = catalog.invalid(
        catalog.stub.CreateExecutionPolicy,
        pb.CreateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(
                name=catalog.unique("p"),
                job_timeout=duration(seconds=0),
                maximum_retry_interval=duration(seconds=-5),
                retry_interval_backoff_coefficient=0.5,
                maximum_attempts=0,
            )
        ),
    )
    assert set(problems) == {
        "execution_policy.job_timeout",
        "execution_policy.maximum_retry_interval",
        "execution_policy.retry_interval_backoff_coefficient",
        "execution_policy.maximum_attempts",
    }
    problems = catalog.invalid(
        catalog.stub.UpdateExecutionPolicy,
        pb.UpdateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(
                name=name, maximum_retry_interval=duration(milliseconds=50)
            )
        ),
    )
    assert set(problems) == {"execution_policy.initial_retry_interval"}

    catalog.stub.DeleteExecutionPolicy(pb.DeleteExecutionPolicyRequest(name=name))
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.GetExecutionPolicy,
        pb.GetExecutionPolicyRequest(name=name),
    )


# --- jobs ----------------------------------------------------------------------------------


def test_job_crud_and_references(catalog: Any) -> None:
    credential = make_credential(catalog)
    content = make_content(catalog)
    target = make_database(catalog)
    policy = catalog.unique("policy")
    catalog.stub.CreateExecutionPolicy(
        pb.CreateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(name=policy, maximum_attempts=2)
        )
    )
    name = catalog.unique("job")
    destination = r.ResultDestination(
        engine="postgresql",
        server_name="results.db.example.com",
        database_name="telemetry",
        schema_name="public",
        table_name="collected_rows",
        credential_name=credential,
    )
    job = catalog.stub.CreateJob(
        pb.CreateJobRequest(
            job=r.Job(
                name=name,
                content_name=content,
                credential_name=credential,
                target_id=target.target_id,
                execution_policy_name=policy,
                result_destination=destination,
            )
        )
    ).job
    assert job.name == name and job.result_destination == destination
    assert not job.allow_concurrent_executions and job.HasField("create_time")
    assert catalog.stub.GetJob(pb.GetJobRequest(name=name)).job == job
    catalog.fails(
        Code.ALREADY_EXISTS,
        catalog.stub.CreateJob,
        pb.CreateJobRequest(
            job=r.Job(
                name=name,
                content_name=content,
                credential_name=credential,
                target_id=target.target_id,
            )
        ),
    )

    # Everything it names is in use now.
    for method, request in (
        (catalog.stub.DeleteCredential, pb.DeleteCredentialRequest(name=credential)),
        (catalog.stub.DeleteContent, pb.DeleteContentRequest(name=content)),
        (catalog.stub.DeleteTarget, pb.DeleteTargetRequest(target_id=target.target_id)),
        (catalog.stub.DeleteExecutionPolicy, pb.DeleteExecutionPolicyRequest(name=policy)),
    ):
        error = catalog.fails(Code.FAILED_PRECONDITION, method, request)
        assert name in error.details()
    assert catalog.stub.GetCredential(pb.GetCredentialRequest(name=credential)).credential.name

    # Update with a mask: switch to the default policy, drop the destination, allow overlap.
    updated = catalog.stub.UpdateJob(
        pb.UpdateJobRequest(
            job=r.Job(name=name, allow_concurrent_executions=True),
            update_mask=field_mask_pb2.FieldMask(
                paths=[
                    "execution_policy_name",
                    "result_destination",
                    "allow_concurrent_executions",
                ]
            ),
        )
    ).job
    assert updated.execution_policy_name == ""
    assert not updated.HasField("result_destination")
    assert updated.allow_concurrent_executions
    assert updated.content_name == content and updated.credential_name == credential
    # Without a mask: only what is given.
    other_content = make_content(catalog)
    again = catalog.stub.UpdateJob(
        pb.UpdateJobRequest(job=r.Job(name=name, content_name=other_content))
    ).job
    assert again.content_name == other_content and again.allow_concurrent_executions
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.UpdateJob,
        pb.UpdateJobRequest(job=r.Job(name=name, content_name=catalog.unique("none"))),
    )

    # The policy and the first content are free again.
    catalog.stub.DeleteExecutionPolicy(pb.DeleteExecutionPolicyRequest(name=policy))
    catalog.stub.DeleteContent(pb.DeleteContentRequest(name=content))

    listed = _all_pages(
        lambda token: catalog.stub.ListJobs(pb.ListJobsRequest(page_size=2, page_token=token)),
        "jobs",
    )
    assert [j.name for j in listed].count(name) == 1

    catalog.stub.DeleteJob(pb.DeleteJobRequest(name=name))
    catalog.fails(Code.NOT_FOUND, catalog.stub.GetJob, pb.GetJobRequest(name=name))
    catalog.fails(Code.NOT_FOUND, catalog.stub.DeleteJob, pb.DeleteJobRequest(name=name))
    catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.UpdateJob,
        pb.UpdateJobRequest(job=r.Job(name=name, content_name=other_content)),
    )
    listed = _all_pages(
        lambda token: catalog.stub.ListJobs(pb.ListJobsRequest(page_size=2, page_token=token)),
        "jobs",
    )
    assert name not in [j.name for j in listed]
    # Marked, not gone: its executions still run on what it names, until the scheduler
    # removes it with its history (tests/e2e/test_job_deletion.py runs that part).
    in_use = catalog.fails(
        Code.FAILED_PRECONDITION,
        catalog.stub.DeleteCredential,
        pb.DeleteCredentialRequest(name=credential),
    )
    assert "it is removed once its executions end" in in_use.details()
    recreated = catalog.fails(
        Code.FAILED_PRECONDITION,
        catalog.stub.CreateJob,
        pb.CreateJobRequest(
            job=r.Job(
                name=name,
                content_name=other_content,
                target_id=target.target_id,
                credential_name=credential,
            )
        ),
    )
    assert "removed once its executions end" in recreated.details()
    definition = catalog.internal.GetJobDefinition(ipb.GetJobDefinitionRequest(name=name))
    assert definition.deleted and definition.job.content_name == other_content
    assert name in catalog.internal.ListDeletedJobs(ipb.ListDeletedJobsRequest()).names

    catalog.internal.RemoveDeletedJob(ipb.RemoveDeletedJobRequest(name=name))
    assert name not in catalog.internal.ListDeletedJobs(ipb.ListDeletedJobsRequest()).names
    catalog.fails(
        Code.NOT_FOUND,
        catalog.internal.RemoveDeletedJob,
        ipb.RemoveDeletedJobRequest(name=name),
    )
    catalog.fails(
        Code.NOT_FOUND,
        catalog.internal.GetJobDefinition,
        ipb.GetJobDefinitionRequest(name=name),
    )
    catalog.stub.DeleteCredential(pb.DeleteCredentialRequest(name=credential))
    catalog.stub.DeleteTarget(pb.DeleteTargetRequest(target_id=target.target_id))


def test_job_missing_references(catalog: Any) -> None:
    credential = make_credential(catalog)
    content = make_content(catalog)
    target = make_database(catalog)
    base = {
        "name": catalog.unique("job"),
        "content_name": content,
        "credential_name": credential,
        "target_id": target.target_id,
    }
    for field, value, message in (
        ("content_name", "missing-content", "content 'missing-content' not found"),
        ("credential_name", "missing-cred", "credential 'missing-cred' not found"),
        ("execution_policy_name", "missing-policy", "execution policy 'missing-policy' not found"),
        (
            "target_id",
            "00000000-0000-4000-8000-000000000000",
            "target '00000000-0000-4000-8000-000000000000' not found",
        ),
    ):
        error = catalog.fails(
            Code.NOT_FOUND,
            catalog.stub.CreateJob,
            pb.CreateJobRequest(job=r.Job(**{**base, field: value})),
        )
        assert error.details() == message
    error = catalog.fails(
        Code.NOT_FOUND,
        catalog.stub.CreateJob,
        pb.CreateJobRequest(
            job=r.Job(
                **base,
                result_destination=r.ResultDestination(
                    engine="mysql",
                    server_name="r.db.example.com",
                    database_name="results",
                    table_name="t",
                    credential_name="missing-dest-cred",
                ),
            )
        ),
    )
    assert "missing-dest-cred" in error.details()


def test_job_credential_rules(catalog: Any) -> None:
    content = make_content(catalog)
    postgres = make_database(catalog)
    sqlite = make_database(catalog, engine="sqlite")
    problems = catalog.invalid(
        catalog.stub.CreateJob,
        pb.CreateJobRequest(
            job=r.Job(
                name=catalog.unique("job"), content_name=content, target_id=postgres.target_id
            )
        ),
    )
    assert set(problems) == {"job.credential_name"}

    # SQLite-only targets need no credential, and neither does a SQLite destination.
    job = catalog.stub.CreateJob(
        pb.CreateJobRequest(
            job=r.Job(
                name=catalog.unique("job"),
                content_name=content,
                target_id=sqlite.target_id,
                result_destination=r.ResultDestination(
                    engine="sqlite", database_name="results/out.db", table_name="rows"
                ),
            )
        )
    ).job
    assert job.credential_name == "" and job.result_destination.engine == "sqlite"

    fleet = make_collection(catalog)
    catalog.stub.AddChildTarget(
        pb.AddChildTargetRequest(
            custom_collection_name=fleet.custom_collection.name, child_target_id=sqlite.target_id
        )
    )
    catalog.stub.CreateJob(
        pb.CreateJobRequest(
            job=r.Job(name=catalog.unique("job"), content_name=content, target_id=fleet.target_id)
        )
    )
    catalog.stub.AddChildTarget(
        pb.AddChildTargetRequest(
            custom_collection_name=fleet.custom_collection.name,
            child_target_id=postgres.target_id,
        )
    )
    problems = catalog.invalid(
        catalog.stub.CreateJob,
        pb.CreateJobRequest(
            job=r.Job(name=catalog.unique("job"), content_name=content, target_id=fleet.target_id)
        ),
    )
    assert "postgresql" in problems["job.credential_name"]


# Names PostgreSQL would cut short (40 x 'é' is 80 bytes), control characters, the prefix
# SQLite reserves.
BAD_TABLE_NAMES = [
    "x; DROP TABLE y",
    'a"b',
    "1abc",
    "a" * 64,
    "",
    "é" * 40,
    "é" * 31,
    "a\nb",
    "results\n",
    "a\x00b",
    "a\u202eb",
    "sqlite_results",
]


@pytest.mark.parametrize("table", BAD_TABLE_NAMES)
def test_destination_table_names(catalog: Any, table: str) -> None:
    problems = catalog.invalid(
        catalog.stub.CreateJob,
        pb.CreateJobRequest(
            job=r.Job(
                name=catalog.unique("job"),
                content_name="c",
                credential_name="cred",
                target_id="00000000-0000-4000-8000-000000000000",
                result_destination=r.ResultDestination(
                    engine="postgresql",
                    server_name="r.db.example.com",
                    database_name="results",
                    schema_name="bad schema",
                    table_name=table,
                    credential_name="cred",
                ),
            )
        ),
    )
    assert set(problems) == {
        "job.result_destination.table_name",
        "job.result_destination.schema_name",
    }


def test_destination_names_are_checked_on_update_too(catalog: Any) -> None:
    name = catalog.unique("job")
    catalog.stub.CreateJob(
        pb.CreateJobRequest(
            job=r.Job(
                name=name,
                content_name=make_content(catalog),
                credential_name=make_credential(catalog),
                target_id=make_database(catalog).target_id,
            )
        )
    )
    for table, schema in (("é" * 40, ""), ("ok", "a\nb"), ("ok", "Sqlite_x")):
        problems = catalog.invalid(
            catalog.stub.UpdateJob,
            pb.UpdateJobRequest(
                job=r.Job(
                    name=name,
                    result_destination=r.ResultDestination(
                        engine="sqlite",
                        database_name="results.db",
                        schema_name=schema,
                        table_name=table,
                    ),
                )
            ),
        )
        field = "table_name" if schema == "" else "schema_name"
        assert set(problems) == {f"job.result_destination.{field}"}


def test_job_validation(catalog: Any) -> None:
    problems = catalog.invalid(
        catalog.stub.CreateJob,
        pb.CreateJobRequest(
            job=r.Job(
                name="bad/name",
                target_id="not-a-uuid",
                result_destination=r.ResultDestination(engine="mssql", table_name="t"),
            )
        ),
    )
    assert set(problems) == {
        "job.name",
        "job.content_name",
        "job.target_id",
        "job.result_destination.engine",
        "job.result_destination.server_name",
        "job.result_destination.credential_name",
        "job.result_destination.database_name",
    }


# --- request ids and pages -----------------------------------------------------------------


def test_request_id_deduplicates(catalog: Any) -> None:
    request_id = catalog.unique("req")
    name = catalog.unique("cred")
    request = pb.CreateCredentialRequest(
        credential=r.Credential(name=name, username="admin", password="pw"),
        request_id=request_id,
    )
    first = catalog.stub.CreateCredential(request).credential
    second = catalog.stub.CreateCredential(request).credential
    assert second == first
    # A later change shows: the repeat returns the resource's current state.
    catalog.stub.UpdateCredential(
        pb.UpdateCredentialRequest(credential=r.Credential(name=name, username="changed"))
    )
    third = catalog.stub.CreateCredential(request).credential
    assert third.username == "changed"

    # The id is scoped per RPC, and each create of every kind honours it.
    content_request = pb.CreateContentRequest(
        content=r.Content(name=catalog.unique("content"), script=r.Script(command_text="SELECT 1")),
        request_id=request_id,
    )
    assert (
        catalog.stub.CreateContent(content_request).content
        == catalog.stub.CreateContent(content_request).content
    )
    target_request = pb.CreateTargetRequest(
        target=r.Target(custom_collection=r.CustomCollectionTarget(name=catalog.unique("fleet"))),
        request_id=request_id,
    )
    target = catalog.stub.CreateTarget(target_request).target
    assert catalog.stub.CreateTarget(target_request).target.target_id == target.target_id
    policy_request = pb.CreateExecutionPolicyRequest(
        execution_policy=r.ExecutionPolicy(name=catalog.unique("policy")),
        request_id=request_id,
    )
    assert (
        catalog.stub.CreateExecutionPolicy(policy_request).execution_policy
        == catalog.stub.CreateExecutionPolicy(policy_request).execution_policy
    )
    sqlite = make_database(catalog, engine="sqlite")
    job_request = pb.CreateJobRequest(
        job=r.Job(
            name=catalog.unique("job"),
            content_name=content_request.content.name,
            target_id=sqlite.target_id,
        ),
        request_id=request_id,
    )
    assert catalog.stub.CreateJob(job_request).job == catalog.stub.CreateJob(job_request).job

    # Without a request_id a repeat acts again (and finds the name taken).
    catalog.fails(
        Code.ALREADY_EXISTS,
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(credential=request.credential),
    )
    catalog.invalid(
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(credential=request.credential, request_id="x" * 129),
    )


def test_pagination_errors(catalog: Any) -> None:
    for method, request_type in (
        (catalog.stub.ListCredentials, pb.ListCredentialsRequest),
        (catalog.stub.ListContents, pb.ListContentsRequest),
        (catalog.stub.ListTargets, pb.ListTargetsRequest),
        (catalog.stub.ListExecutionPolicies, pb.ListExecutionPoliciesRequest),
        (catalog.stub.ListJobs, pb.ListJobsRequest),
    ):
        problems = catalog.invalid(method, request_type(page_token="bogus!"))
        assert set(problems) == {"page_token"}
        problems = catalog.invalid(method, request_type(page_size=-1))
        assert set(problems) == {"page_size"}
        # Larger than 1000 is treated as 1000, not refused.
        method(request_type(page_size=5000))


def test_credentials_page_by_two(catalog: Any) -> None:
    names = {make_credential(catalog) for _ in range(5)}
    listed = _all_pages(
        lambda token: catalog.stub.ListCredentials(
            pb.ListCredentialsRequest(page_size=2, page_token=token)
        ),
        "credentials",
        page_size=2,
    )
    seen = [c.name for c in listed]
    assert len(seen) == len(set(seen))
    assert names <= set(seen)


def _all_pages(call: Any, field: str, page_size: int | None = None) -> list[Any]:
    items: list[Any] = []
    token = ""
    for _ in range(10_000):
        reply = call(token)
        page = list(getattr(reply, field))
        if page_size is not None:
            assert len(page) <= page_size
        items.extend(page)
        token = reply.next_page_token
        if not token:
            return items
    raise AssertionError("pagination did not end")
