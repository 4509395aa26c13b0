"""A target's or destination's server name is one host name or IP literal, read the same way
by the allow-list and by every driver: a name a driver reads as several hosts (libpq and
MariaDB Connector/ODBC take `a,b` as a list and try the second when the first fails) would
carry the password past the allow-list."""

from __future__ import annotations

from typing import Any

import pytest

from fleetjobs.catalog.domain._jobs import ResultDestinationSpec, destination_violations
from fleetjobs.core.crypto import server_allowed, server_name_problem
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as pb

SMUGGLING = (
    # Python reads everything after '%' as an IPv6 scope, and a mapped address's IPv4 form
    # drops it: this compared as 127.0.0.1 while libpq connected to 127.0.0.2.
    "::ffff:127.0.0.1%x,127.0.0.2",
    "[::ffff:127.0.0.1%x,127.0.0.2]",
    "::ffff:127.0.0.1%eth0",
    "fe80::1%x,127.0.0.2",
    "fe80::1%x;y",
    "127.0.0.1,127.0.0.2",
    "db.example.com,evil.example.net",
    "127.0.0.1:5432",
    "db.example.com ",
    "127.1",
)
ACCEPTED = (
    "127.0.0.1",
    "db.example.com",
    "localhost",
    "tenant_a.db",
    "::1",
    "[::1]",
    "fe80::1%eth0",
)


@pytest.mark.parametrize("server_name", SMUGGLING)
def test_a_name_that_is_not_one_host_is_refused_and_never_allowed(server_name: str) -> None:
    assert server_name_problem(server_name) is not None
    assert not server_allowed(server_name, ["127.0.0.1:*", "fe80::1"], port=0, default_port=5432)


@pytest.mark.parametrize("server_name", ACCEPTED)
def test_one_host_name_or_address_is_accepted(server_name: str) -> None:
    assert server_name_problem(server_name) is None


def test_create_target_refuses_it_with_a_field_violation(catalog: Any) -> None:
    for server_name in SMUGGLING[:2]:
        request = pb.CreateTargetRequest(
            target=r.Target(
                database=r.DatabaseTarget(
                    engine="postgresql", server_name=server_name, database_name="db"
                )
            )
        )
        problems = catalog.invalid(catalog.stub.CreateTarget, request)
        assert set(problems) == {"target.database.server_name"}
        assert "must be one host name" in problems["target.database.server_name"]


def test_a_result_destination_refuses_it_too() -> None:
    spec = ResultDestinationSpec(
        engine="postgresql",
        server_name=SMUGGLING[0],
        port=0,
        database_name="results",
        schema_name="",
        table_name="collected",
        credential_name="writer",
    )
    problems = dict(destination_violations(spec, "job.result_destination"))
    assert "must be one host name" in problems["job.result_destination.server_name"]
