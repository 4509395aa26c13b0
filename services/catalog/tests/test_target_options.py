"""CreateTarget keeps a target's connection options to the allow-list (docs/adr/0006), through
real gRPC: each refusal is INVALID_ARGUMENT with a field violation naming the option and
saying what to do."""

from __future__ import annotations

from typing import Any

from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as pb


def _create(catalog: Any, engine: str, options: dict[str, str]) -> Any:
    return pb.CreateTargetRequest(
        target=r.Target(
            database=r.DatabaseTarget(
                engine=engine,
                server_name="127.0.0.1",
                database_name=catalog.unique("db"),
                options=options,
            )
        )
    )


def test_an_unknown_option_is_refused_with_the_allowed_names(catalog: Any) -> None:
    options = {"driver": "PostgreSQL Unicode", "CX": "1", "sslmode": "require"}
    problems = catalog.invalid(catalog.stub.CreateTarget, _create(catalog, "odbc", options))
    assert set(problems) == {"target.database.options[CX]"}
    why = problems["target.database.options[CX]"]
    assert "is not allowed for engine odbc with a psqlODBC (PostgreSQL) driver" in why
    assert "Remove it; the allowed options are: " in why
    assert "SSLmode" in why and "BoolsAsChar" in why


def test_psqlodbc_pqopt_takes_server_settings_only(catalog: Any) -> None:
    options = {"driver": "PostgreSQL Unicode", "pqopt": "hostaddr=10.0.0.9"}
    problems = catalog.invalid(catalog.stub.CreateTarget, _create(catalog, "odbc", options))
    assert set(problems) == {"target.database.options[pqopt]"}
    assert "may only hold server settings" in problems["target.database.options[pqopt]"]
    options["pqopt"] = "options='-c client_connection_check_interval=5000'"
    assert catalog.stub.CreateTarget(_create(catalog, "odbc", options)).target.target_id


def test_moving_options_on_every_engine_are_refused(catalog: Any) -> None:
    cases = [
        ("odbc", {"driver": "MariaDB Unicode", "SOCKET": "/run/trap.sock"}, "SOCKET"),
        ("odbc", {"driver": "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so"}, "driver"),
        ("odbc", {"dsn": "prod"}, "dsn"),
        ("postgresql", {"hostaddr": "10.0.0.9"}, "hostaddr"),
        ("mysql", {"unix_socket": "/run/trap.sock"}, "unix_socket"),
        ("mssql", {"Address": "10.0.0.9"}, "Address"),
    ]
    for engine, options, bad in cases:
        problems = catalog.invalid(catalog.stub.CreateTarget, _create(catalog, engine, options))
        assert f"target.database.options[{bad}]" in problems, (engine, problems)


def test_a_value_that_would_close_its_braces_is_refused(catalog: Any) -> None:
    options = {"driver": "PostgreSQL Unicode", "sslmode": "disable};pqopt={hostaddr=10.0.0.9"}
    problems = catalog.invalid(catalog.stub.CreateTarget, _create(catalog, "odbc", options))
    assert problems == {
        "target.database.options[sslmode]": (
            "must be one of disable, allow, prefer, require, verify-ca, verify-full"
        )
    }


def test_at_most_64_options(catalog: Any) -> None:
    options = {f"keepalives{index}": "1" for index in range(65)}
    problems = catalog.invalid(catalog.stub.CreateTarget, _create(catalog, "postgresql", options))
    assert problems == {"target.database.options": "at most 64 options, not 65"}


def test_allowed_options_are_kept(catalog: Any) -> None:
    options = {"driver": "MariaDB Unicode", "OPTION": "67108864", "SSLVERIFY": "1"}
    target = catalog.stub.CreateTarget(_create(catalog, "odbc", options)).target
    assert dict(target.database.options) == options
