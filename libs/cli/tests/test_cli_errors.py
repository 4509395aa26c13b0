"""Exit codes and error messages, from real gRPC errors of a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped, unused-ignore]
from grpc_status import rpc_status

from fleetjobs.cli import ExitCode, main
from fleetjobs.cli.testing import run_cli
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog
from fleetjobs.v1 import catalog_service_pb2_grpc as catalog_grpc

Serve = Callable[[Any, object], str]
VIOLATIONS = [
    ("name", "must be 1-128 characters of letters, digits, '.', '_' and '-'"),
    ("name", "must not start with '-'"),
]


def _status(code: int, message: str, *details: Any) -> Any:
    packed = []
    for detail in details:
        wrapper = any_pb2.Any()
        wrapper.Pack(detail)
        packed.append(wrapper)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=packed))


class ErrorCatalog(catalog_grpc.CatalogServiceServicer):
    """GetCredential answers by name: a known error for each of the names below."""

    def GetCredential(self, request: catalog.GetCredentialRequest, context: Any) -> Any:
        name = request.name
        if name == "missing":
            context.abort_with_status(
                _status(
                    code_pb2.NOT_FOUND,
                    "credential 'missing' not found",
                    error_details_pb2.ErrorInfo(reason="NOT_FOUND", domain="fleetjobs.io"),
                )
            )
        if name.startswith("-bad"):
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in VIOLATIONS
                ]
            )
            context.abort_with_status(
                _status(code_pb2.INVALID_ARGUMENT, "name: is not a valid name", bad_request)
            )
        if name == "taken":
            context.abort_with_status(
                _status(code_pb2.ALREADY_EXISTS, "credential 'taken' already exists")
            )
        if name == "busy":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "credential 'busy' is used")
        if name == "down":
            context.abort(grpc.StatusCode.UNAVAILABLE, "the control database is unreachable")
        if name == "boom":
            context.abort(grpc.StatusCode.INTERNAL, "something broke")
        return catalog.GetCredentialResponse(
            credential=resources.Credential(name=name, username="app", allowed_servers=["db1"])
        )


@pytest.fixture
def error_catalog(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> str:
    servicer = ErrorCatalog()  # type: ignore[abstract]  # see conftest
    address = serve(catalog_grpc.add_CatalogServiceServicer_to_server, servicer)
    monkeypatch.setenv("FLEETJOBS_CATALOG_ADDR", address)
    return address


@pytest.mark.parametrize(
    ("name", "code", "first_line"),
    [
        ("missing", ExitCode.NOT_FOUND, "NOT_FOUND: credential 'missing' not found"),
        ("taken", ExitCode.ALREADY_EXISTS, "ALREADY_EXISTS: credential 'taken' already exists"),
        ("busy", ExitCode.FAILED_PRECONDITION, "FAILED_PRECONDITION: credential 'busy' is used"),
        ("down", ExitCode.UNAVAILABLE, "UNAVAILABLE: the control database is unreachable"),
        ("boom", ExitCode.ERROR, "INTERNAL: something broke"),
    ],
)
def test_each_status_has_its_exit_code(
    error_catalog: str, name: str, code: int, first_line: str
) -> None:
    result = run_cli("credential", "get", name)
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == f"fleetjobs: {first_line}"
    assert result.stdout == ""


def test_field_violations_are_printed_one_per_line(error_catalog: str) -> None:
    result = run_cli("credential", "get", "--", "-bad")
    assert result.exit_code == ExitCode.INVALID_ARGUMENT
    assert result.stderr.splitlines() == [
        "fleetjobs: INVALID_ARGUMENT: name: is not a valid name",
        *(f"  {field}: {description}" for field, description in VIOLATIONS),
    ]


def test_a_success_exits_zero(error_catalog: str) -> None:
    result = run_cli("credential", "get", "app")
    assert result.exit_code == 0
    assert "username:        app" in result.stdout
    assert "allowed servers: db1" in result.stdout


def test_nothing_listening_is_unavailable_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is free again: nothing listens there.
    monkeypatch.setenv("FLEETJOBS_CATALOG_ADDR", f"127.0.0.1:{port}")
    result = run_cli("credential", "list")
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert result.stderr.startswith("fleetjobs: UNAVAILABLE: ")
    assert "is the suite running? try `make up`" in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr


def test_usage_errors_exit_two() -> None:
    assert run_cli().exit_code == ExitCode.USAGE
    assert run_cli("credential").exit_code == 2
    assert run_cli("credential", "get").exit_code == 2
    assert run_cli("no-such-noun").exit_code == 2
    bad_duration = run_cli("policy", "create", "p", "--job-timeout", "5x")
    assert bad_duration.exit_code == 2
    assert "invalid duration '5x'" in bad_duration.stderr
    # Found after parsing, still a usage error; no service is asked (none runs here).
    twice = run_cli(
        "target", "add-database", "--engine", "sqlite", "--database", "a.db",
        "--option", "a=1", "--option", "a=2",
    )  # fmt: skip
    assert twice.exit_code == 2
    assert "more than once" in twice.stderr
    assert run_cli("policy", "update", "p").exit_code == 2
    assert run_cli("job", "update", "j").exit_code == 2


def test_exit_codes_are_the_documented_numbers() -> None:
    assert {code.name: code.value for code in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "USAGE": 2,
        "NOT_FOUND": 3,
        "ALREADY_EXISTS": 4,
        "INVALID_ARGUMENT": 5,
        "FAILED_PRECONDITION": 6,
        "UNAVAILABLE": 7,
        "NOT_SUCCEEDED": 8,
        "INTERRUPTED": 130,
    }


def test_help_documents_every_exit_code() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for code in ExitCode:
        assert f"\n  {code.value:>3}  " in result.stdout, code
    assert "FLEETJOBS_CATALOG_ADDR" in result.stdout


def test_json_flag_is_accepted_before_the_noun_and_after_the_verb(error_catalog: str) -> None:
    for argv in (("--json", "credential", "get", "app"), ("credential", "get", "app", "--json")):
        result = run_cli(*argv)
        assert result.exit_code == 0
        assert '"username": "app"' in result.stdout


def test_the_console_script_exits_with_the_code(error_catalog: str) -> None:
    env = {**os.environ, "FLEETJOBS_CATALOG_ADDR": error_catalog}
    found = subprocess.run(
        [sys.executable, "-m", "fleetjobs.cli", "credential", "get", "missing"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert found.returncode == ExitCode.NOT_FOUND
    assert "NOT_FOUND" in found.stderr


def test_main_takes_no_argv_as_sys_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["fleetjobs", "--version"])
    assert main() == 0
