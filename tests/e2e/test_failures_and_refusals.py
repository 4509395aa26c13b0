"""What goes wrong, and how each child says so: script errors with retries, refusals of
credentials outside their allow-list (nothing sent), SQLite paths leaving the root."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._fleet import Login, set_mariadb_password
from fleetjobs.testing._listener import CountingListener
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as c
from fleetjobs.v1 import execution_service_pb2 as e


@pytest.fixture(scope="module")
def control_db_url(sqlite_control_db: str) -> str:
    """These behaviours do not depend on the control database: SQLite only, for speed."""
    return sqlite_control_db


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    owned = CountingListener("127.0.0.2")
    yield owned
    owned.close()


def _sqlite_files(root: Path, count: int, *, with_marker: int) -> list[str]:
    """`count` SQLite databases under the root; the first `with_marker` have a `marker` table."""
    folder = f"fail/{uuid.uuid4().hex[:8]}"
    (root / folder).mkdir(parents=True)
    names = []
    for index in range(count):
        name = f"{folder}/db{index}.db"
        with sqlite3.connect(root / name) as conn:
            if index < with_marker:
                conn.execute("CREATE TABLE marker (id INTEGER)")
                conn.execute("INSERT INTO marker VALUES (1)")
        names.append(name)
    return names


def _attempts(suite: RunningSuite, child_id: str) -> list[object]:
    reply = suite.executions.ListJobTaskExecutions(
        e.ListJobTaskExecutionsRequest(job_execution_id=child_id)
    )
    return sorted(reply.job_task_executions, key=lambda a: a.attempt)


def test_failing_database_fails_alone_after_the_policy_attempts(
    suite: RunningSuite, sqlite_root: Path
) -> None:
    databases = _sqlite_files(sqlite_root, 3, with_marker=2)
    members = [api.database_target(suite, engine="sqlite", database=d) for d in databases]
    policy = api.policy(suite, initial_ms=100, maximum_ms=1000, coefficient=2.0, attempts=2)
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT count(*) AS n FROM marker;"),
        target_id=api.collection(suite, members),
        policy_name=policy,
    )

    execution = api.run(suite, job)

    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.FAILED
    by_database = {child.database_name: child for child in execution.child_executions}
    failed = by_database[databases[2]]
    assert Lifecycle.from_proto(failed.lifecycle) is Lifecycle.FAILED
    assert "no such table: marker" in failed.message
    attempts = _attempts(suite, failed.job_execution_id)
    assert [a.attempt for a in attempts] == [1, 2]
    assert all("no such table: marker" in a.message for a in attempts)
    assert {a.error_class for a in attempts} == {"undefined_object"}
    for name in databases[:2]:
        assert Lifecycle.from_proto(by_database[name].lifecycle) is Lifecycle.SUCCEEDED
        assert len(_attempts(suite, by_database[name].job_execution_id)) == 1


def test_non_retryable_error_class_fails_after_one_attempt(
    suite: RunningSuite, sqlite_root: Path
) -> None:
    (database,) = _sqlite_files(sqlite_root, 1, with_marker=0)
    policy = api.policy(
        suite,
        initial_ms=100,
        maximum_ms=1000,
        coefficient=2.0,
        attempts=5,
        non_retryable=["syntax_error"],
    )
    job = api.job(
        suite,
        content_name=api.content(suite, "SELEKT 1;"),
        target_id=api.database_target(suite, engine="sqlite", database=database),
        policy_name=policy,
    )

    execution = api.run(suite, job)

    (child,) = execution.child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    assert "syntax error" in child.message
    assert len(_attempts(suite, child.job_execution_id)) == 1


def test_target_outside_the_allow_list_is_never_contacted(
    suite: RunningSuite, listener: CountingListener
) -> None:
    credential = api.credential(
        suite, username="someone", password="never-sent", allowed=["127.0.0.1"]
    )
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=api.database_target(
            suite, engine="postgresql", server="127.0.0.2", port=listener.port, database="x"
        ),
        credential_name=credential,
    )

    execution = api.run(suite, job)

    (child,) = execution.child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    assert "may not be sent to server '127.0.0.2'" in child.message
    (attempt,) = _attempts(suite, child.job_execution_id)  # refusals are never retried
    assert attempt.error_class == "refused"
    assert listener.accepted == 0


def test_result_destination_outside_the_allow_list_is_never_contacted(
    suite: RunningSuite, sqlite_root: Path, listener: CountingListener
) -> None:
    (database,) = _sqlite_files(sqlite_root, 1, with_marker=1)
    credential = api.credential(
        suite, username="someone", password="never-sent", allowed=["127.0.0.1"]
    )
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT id FROM marker;"),
        target_id=api.database_target(suite, engine="sqlite", database=database),
        destination=r.ResultDestination(
            engine="postgresql",
            server_name="127.0.0.2",
            port=listener.port,
            database_name="results",
            table_name="collected",
            credential_name=credential,
        ),
    )

    execution = api.run(suite, job)

    (child,) = execution.child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    assert "may not be sent to server '127.0.0.2'" in child.message
    assert listener.accepted == 0


def test_sqlite_target_leaving_the_root_is_refused_and_a_sibling_works(
    suite: RunningSuite, sqlite_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(grpc.RpcError) as refused_at_definition:
        api.database_target(suite, engine="sqlite", database="../outside.db")
    assert refused_at_definition.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A symlink inside the root that leads out passes the catalog's textual check; the
    # executor resolves it and refuses at run time.
    outside = tmp_path / "outside"
    outside.mkdir()
    link = sqlite_root / f"link-{uuid.uuid4().hex[:8]}"
    link.symlink_to(outside, target_is_directory=True)
    (inside,) = _sqlite_files(sqlite_root, 1, with_marker=1)
    members = [
        api.database_target(suite, engine="sqlite", database=f"{link.name}/escape.db"),
        api.database_target(suite, engine="sqlite", database=inside),
    ]
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=api.collection(suite, members),
    )

    execution = api.run(suite, job)

    by_database = {child.database_name: child for child in execution.child_executions}
    escaped = by_database[f"{link.name}/escape.db"]
    assert Lifecycle.from_proto(escaped.lifecycle) is Lifecycle.FAILED
    assert "FLEETJOBS_SQLITE_ROOT" in escaped.message or "outside" in escaped.message
    assert not (outside / "escape.db").exists()
    assert Lifecycle.from_proto(by_database[inside].lifecycle) is Lifecycle.SUCCEEDED


def test_credential_checked_by_the_server_and_rotation_takes_effect(
    suite: RunningSuite, login: Login, mariadb_fleet: list[str]
) -> None:
    database = mariadb_fleet[0]
    credential = api.credential(
        suite, username=login.username, password=login.password, allowed=["127.0.0.1"]
    )
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=api.database_target(suite, engine="mysql", server="127.0.0.1", database=database),
        credential_name=credential,
        policy_name=api.policy(suite, initial_ms=100, maximum_ms=100, coefficient=1.0, attempts=1),
    )
    assert Lifecycle.from_proto(api.run(suite, job).lifecycle) is Lifecycle.SUCCEEDED

    rotated = login.password + "-rotated"
    set_mariadb_password(login.username, rotated)
    try:
        time.sleep(1.2)  # past the executors' one-second credential cache
        stale = api.run(suite, job)
        (child,) = stale.child_executions
        assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
        assert "Access denied" in child.message
        assert login.password not in child.message

        suite.catalog.UpdateCredential(
            c.UpdateCredentialRequest(credential=r.Credential(name=credential, password=rotated))
        )
        time.sleep(1.2)
        assert Lifecycle.from_proto(api.run(suite, job).lifecycle) is Lifecycle.SUCCEEDED
    finally:
        set_mariadb_password(login.username, login.password)
