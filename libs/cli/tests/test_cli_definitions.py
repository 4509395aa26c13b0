"""What the definition commands send and print: contents, targets, policies and jobs."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import duration_pb2

from fleetjobs.cli._jobs import build_update as build_job_update
from fleetjobs.cli._parser import build_parser
from fleetjobs.cli._policies import build_policy
from fleetjobs.cli.testing import run_cli
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog
from fleetjobs.v1 import catalog_service_pb2_grpc as catalog_grpc

Serve = Callable[[Any, object], str]


class DefinitionCatalog(catalog_grpc.CatalogServiceServicer):
    """Keeps contents, targets and jobs in memory and records every request."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.contents: dict[str, list[resources.Content]] = {}
        self.jobs: dict[str, resources.Job] = {}
        self._lock = threading.Lock()

    def _record(self, request: Any) -> None:
        with self._lock:
            self.requests.append(request)

    def CreateContent(self, request: catalog.CreateContentRequest, context: Any) -> Any:
        self._record(request)
        content = resources.Content()
        content.CopyFrom(request.content)
        content.version = 1
        self.contents[content.name] = [content]
        return catalog.CreateContentResponse(content=content)

    def UpdateContentDefinition(
        self, request: catalog.UpdateContentDefinitionRequest, context: Any
    ) -> Any:
        self._record(request)
        versions = self.contents[request.name]
        content = resources.Content(
            name=request.name,
            version=len(versions) + 1,
            comment=request.comment,
            script=request.script,
        )
        versions.append(content)
        return catalog.UpdateContentDefinitionResponse(content=content)

    def GetContent(self, request: catalog.GetContentRequest, context: Any) -> Any:
        versions = self.contents[request.name]
        return catalog.GetContentResponse(content=versions[(request.version or len(versions)) - 1])

    def CreateTarget(self, request: catalog.CreateTargetRequest, context: Any) -> Any:
        self._record(request)
        target = resources.Target()
        target.CopyFrom(request.target)
        target.target_id = str(uuid.uuid4())
        return catalog.CreateTargetResponse(target=target)

    def CreateExecutionPolicy(
        self, request: catalog.CreateExecutionPolicyRequest, context: Any
    ) -> Any:
        self._record(request)
        return catalog.CreateExecutionPolicyResponse(execution_policy=request.execution_policy)

    def CreateJob(self, request: catalog.CreateJobRequest, context: Any) -> Any:
        self._record(request)
        self.jobs[request.job.name] = request.job
        return catalog.CreateJobResponse(job=request.job)

    def GetJob(self, request: catalog.GetJobRequest, context: Any) -> Any:
        return catalog.GetJobResponse(job=self.jobs[request.name])

    def UpdateJob(self, request: catalog.UpdateJobRequest, context: Any) -> Any:
        self._record(request)
        return catalog.UpdateJobResponse(job=request.job)


@pytest.fixture
def definitions(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> DefinitionCatalog:
    servicer = DefinitionCatalog()  # type: ignore[abstract]  # see conftest
    address = serve(catalog_grpc.add_CatalogServiceServicer_to_server, servicer)
    monkeypatch.setenv("FLEETJOBS_CATALOG_ADDR", address)
    return servicer


def test_content_round_trips_a_file_exactly(definitions: DefinitionCatalog, tmp_path: Path) -> None:
    script = "CREATE TABLE t (id int);\r\nGO\r\nSELECT 1 AS one"
    path = tmp_path / "v1.sql"
    path.write_bytes(b"\xef\xbb\xbf" + script.encode("utf-8"))  # with a BOM, as editors write
    created = run_cli("content", "create", "setup", "--file", str(path), "--comment", "first")
    assert (created.exit_code, created.stdout) == (0, "created content setup, version 1\n")
    assert definitions.requests[0].content.script.command_text == script
    assert definitions.requests[0].content.comment == "first"

    updated = run_cli("content", "update", "setup", "--file", "-", stdin="SELECT 2;\n")
    assert updated.stdout == "updated content setup, version 2\n"

    assert run_cli("content", "get", "setup", "--version", "1").stdout == script
    assert run_cli("content", "get", "setup").stdout == "SELECT 2;\n"


def test_content_needs_one_script_source(definitions: DefinitionCatalog, tmp_path: Path) -> None:
    assert run_cli("content", "create", "c").exit_code == 2
    assert run_cli("content", "create", "c", "--text", "x", "--file", "f").exit_code == 2
    missing = run_cli("content", "create", "c", "--file", str(tmp_path / "nope.sql"))
    assert missing.exit_code == 1
    assert "cannot read" in missing.stderr
    assert definitions.requests == []


def test_add_database_prints_the_id_alone(definitions: DefinitionCatalog) -> None:
    result = run_cli(
        "target", "add-database", "--engine", "postgresql", "--server", "pg1", "--port", "5433",
        "--database", "sales", "--option", "sslmode=require", "connect_timeout=5",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    target_id = result.stdout.strip()
    assert result.stdout == target_id + "\n"
    uuid.UUID(target_id)
    database = definitions.requests[0].target.database
    assert (database.engine, database.server_name, database.port, database.database_name) == (
        "postgresql",
        "pg1",
        5433,
        "sales",
    )
    assert dict(database.options) == {"sslmode": "require", "connect_timeout": "5"}

    whole = run_cli("--json", "target", "create-collection", "tenants")
    target = json.loads(whole.stdout)["target"]
    assert target["customCollection"] == {"name": "tenants"}
    uuid.UUID(target["targetId"])


def test_policy_create_sends_the_durations(definitions: DefinitionCatalog) -> None:
    result = run_cli(
        "policy", "create", "fast", "--job-timeout", "1h", "--initial-retry", "100ms",
        "--maximum-retry", "30m", "--backoff", "1.5", "--max-attempts", "4",
        "--non-retryable", "syntax_error", "permission_denied",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    policy = definitions.requests[0].execution_policy
    assert policy.job_timeout == duration_pb2.Duration(seconds=3600)
    assert policy.initial_retry_interval == duration_pb2.Duration(nanos=100_000_000)
    assert policy.maximum_retry_interval == duration_pb2.Duration(seconds=1800)
    assert policy.retry_interval_backoff_coefficient == 1.5
    assert policy.maximum_attempts == 4
    assert list(policy.non_retryable_error_classes) == ["syntax_error", "permission_denied"]


def test_policy_update_masks_the_flags_given() -> None:
    args = build_parser().parse_args(
        ["policy", "update", "p", "--maximum-retry", "1m", "--max-attempts", "3"]
    )
    policy, paths = build_policy(args)
    assert paths == ["maximum_retry_interval", "maximum_attempts"]
    assert not policy.HasField("job_timeout")
    assert not policy.HasField("retry_interval_backoff_coefficient")

    cleared = build_parser().parse_args(["policy", "update", "p", "--clear-non-retryable"])
    policy, paths = build_policy(cleared)
    assert paths == ["non_retryable_error_classes"]
    assert list(policy.non_retryable_error_classes) == []

    # An unset optional field is absent, so the policy inherits default's value.
    _, created_paths = build_policy(build_parser().parse_args(["policy", "create", "p"]))
    assert created_paths == []


def test_job_update_masks_the_flags_given() -> None:
    args = build_parser().parse_args(
        ["job", "update", "j", "--content", "c2", "--no-allow-concurrent", "--credential", ""]
    )
    request = build_job_update(args)
    assert list(request.update_mask.paths) == [
        "content_name",
        "credential_name",
        "allow_concurrent_executions",
    ]
    assert request.job.content_name == "c2"
    assert request.job.allow_concurrent_executions is False

    cleared = build_job_update(
        build_parser().parse_args(["job", "update", "j", "--clear-destination"])
    )
    assert list(cleared.update_mask.paths) == ["result_destination"]
    assert not cleared.job.HasField("result_destination")


def test_job_create_and_update_destination(definitions: DefinitionCatalog) -> None:
    target_id = str(uuid.uuid4())
    created = run_cli(
        "job", "create", "nightly", "--content", "setup", "--target", target_id,
        "--credential", "app", "--policy", "fast", "--allow-concurrent",
        "--dest-engine", "postgresql", "--dest-server", "pg1", "--dest-database", "results",
        "--dest-table", "sizes", "--dest-credential", "app",
    )  # fmt: skip
    assert (created.exit_code, created.stdout) == (0, "created job nightly\n")
    job = definitions.requests[0].job
    assert (job.content_name, job.target_id, job.credential_name) == ("setup", target_id, "app")
    assert (job.execution_policy_name, job.allow_concurrent_executions) == ("fast", True)
    assert job.result_destination.table_name == "sizes"
    assert job.result_destination.schema_name == ""

    # Only the destination's schema changes; the other destination fields are kept.
    updated = run_cli("job", "update", "nightly", "--dest-schema", "ops")
    assert updated.exit_code == 0, updated.stderr
    request = definitions.requests[1]
    assert list(request.update_mask.paths) == ["result_destination"]
    destination = request.job.result_destination
    assert (destination.engine, destination.server_name, destination.database_name) == (
        "postgresql",
        "pg1",
        "results",
    )
    assert (destination.schema_name, destination.table_name) == ("ops", "sizes")
    assert destination.credential_name == "app"
