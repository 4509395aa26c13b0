"""The allow-list is sealed with the password (docs/credentials.md): a ciphertext wrapped in a
credential that allows more servers is refused before anything is sent, an old ciphertext
without a sealed list is refused with advice, and a bare entry allows the default port only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fleetjobs.core.crypto import encrypt_compact
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.internal.v1 import catalog_internal_service_pb2 as internal_pb
from fleetjobs.internal.v1 import catalog_internal_service_pb2_grpc as internal_grpc
from fleetjobs.testing import _api as api
from fleetjobs.testing._password_trap import PostgresPasswordTrap
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as c
from fleetjobs.v1 import execution_service_pb2 as e
from fleetjobs.v1 import executor_service_pb2 as x

RE_ENTER = "re-enter the password to change where it may go"


@pytest.fixture(scope="module")
def control_db_url(sqlite_control_db: str) -> str:
    """These behaviours do not depend on the control database: SQLite only, for speed."""
    return sqlite_control_db


@pytest.fixture
def trap() -> Iterator[PostgresPasswordTrap]:
    with PostgresPasswordTrap("127.0.0.2") as owned:
        yield owned


def _test_connection(
    suite: RunningSuite, target_id: str, credential: str
) -> x.TestConnectionResponse:
    request = x.TestConnectionRequest(target_id=target_id, credential_name=credential)
    reply: x.TestConnectionResponse = suite.executor.TestConnection(request, timeout=30)
    return reply


def _wrap(suite: RunningSuite, encrypted_password: str, allowed: list[str]) -> str:
    """What the attacker does: a new credential around someone else's ciphertext."""
    name = api.name("wrapped")
    suite.catalog.CreateCredential(
        c.CreateCredentialRequest(
            credential=r.Credential(
                name=name,
                username="postgres",
                encrypted_password=encrypted_password,
                allowed_servers=allowed,
            )
        )
    )
    return name


def test_a_ciphertext_wrapped_in_a_wider_allow_list_never_reaches_another_server(
    suite: RunningSuite, trap: PostgresPasswordTrap
) -> None:
    password = f"victim-{api.name('pw')}"
    victim = api.credential(suite, username="postgres", password=password, allowed=["127.0.0.1"])
    # The internal RPC answers on the catalog's public port: anyone there can read the JWE.
    with grpc.insecure_channel(suite.settings.addresses["catalog"]) as channel:
        stolen = (
            internal_grpc.CatalogInternalServiceStub(channel)
            .GetCredentialSecret(internal_pb.GetCredentialSecretRequest(name=victim))
            .encrypted_password
        )
    evil_target = api.database_target(
        suite, engine="postgresql", server="127.0.0.2", port=trap.port, database="postgres"
    )

    for allowed in (["*"], ["127.0.0.1", "127.0.0.2:*"]):
        wrapped = _wrap(suite, stolen, allowed)
        reply = _test_connection(suite, evil_target, wrapped)
        assert not reply.ok
        assert "differ from the list sealed with its password" in reply.message
        assert RE_ENTER in reply.message

    # A job with it: refused at once, never retried, and nothing sent.
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=evil_target,
        credential_name=_wrap(suite, stolen, ["*"]),
        policy_name=api.policy(suite, initial_ms=100, maximum_ms=100, coefficient=1.0, attempts=3),
    )
    (child,) = api.run(suite, job).child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    assert RE_ENTER in child.message
    attempts = suite.executions.ListJobTaskExecutions(
        e.ListJobTaskExecutionsRequest(job_execution_id=child.job_execution_id)
    ).job_task_executions
    assert [(a.attempt, a.error_class) for a in attempts] == [(1, "refused")]
    assert password not in child.message and stolen not in child.message
    assert trap.accepted == 0
    assert not trap.received(password)


def test_an_old_ciphertext_without_a_sealed_list_is_refused_with_advice(
    suite: RunningSuite,
) -> None:
    # What clients made before the list was sealed: the bare password in the JWE.
    key = suite.keys.current_public()
    old = encrypt_compact(b"bare-old-password", key.pem, key.key_id)
    credential = _wrap(suite, old, ["127.0.0.1"])
    target = api.database_target(
        suite, engine="postgresql", server="127.0.0.1", database="postgres"
    )
    reply = _test_connection(suite, target, credential)
    assert not reply.ok
    assert "holds no sealed allow-list" in reply.message
    assert RE_ENTER in reply.message
    assert "bare-old-password" not in reply.message


def test_a_bare_entry_allows_the_default_port_only(suite: RunningSuite, postgres: None) -> None:
    with PostgresPasswordTrap("127.0.0.1") as trap:
        bare = api.credential(suite, username="postgres", password="pw", allowed=["127.0.0.1"])
        default_port = api.database_target(
            suite, engine="postgresql", server="127.0.0.1", database="postgres"
        )
        other_port = api.database_target(
            suite, engine="postgresql", server="127.0.0.1", port=trap.port, database="postgres"
        )
        assert _test_connection(suite, default_port, bare).ok

        refused = _test_connection(suite, other_port, bare)
        assert not refused.ok
        assert f"port {trap.port}" in refused.message
        assert f"'127.0.0.1:{trap.port}' or '127.0.0.1:*'" in refused.message
        assert trap.accepted == 0

        # host:* widens it: now the password goes there.
        wide = api.credential(
            suite, username="postgres", password="pw-wide", allowed=["127.0.0.1:*"]
        )
        _test_connection(suite, other_port, wide)
        assert trap.received("pw-wide")


def test_a_wrapped_ciphertext_never_reaches_a_result_destination(
    suite: RunningSuite, trap: PostgresPasswordTrap, sqlite_root: Path
) -> None:
    password = f"victim-{api.name('pw')}"
    victim = api.credential(suite, username="postgres", password=password, allowed=["127.0.0.2"])
    with grpc.insecure_channel(suite.settings.addresses["catalog"]) as channel:
        stolen = (
            internal_grpc.CatalogInternalServiceStub(channel)
            .GetCredentialSecret(internal_pb.GetCredentialSecretRequest(name=victim))
            .encrypted_password
        )
    database = f"sealed-{api.name('db')}.db"
    sqlite3.connect(sqlite_root / database).close()
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=api.database_target(suite, engine="sqlite", database=database),
        destination=r.ResultDestination(
            engine="postgresql",
            server_name="127.0.0.2",
            port=trap.port,
            database_name="results",
            table_name="collected",
            credential_name=_wrap(suite, stolen, ["127.0.0.2:*"]),
        ),
    )
    (child,) = api.run(suite, job).child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    assert RE_ENTER in child.message
    assert trap.accepted == 0
    assert not trap.received(password)


def test_an_old_target_row_with_such_a_name_never_gets_the_password(
    suite: RunningSuite, trap: PostgresPasswordTrap
) -> None:
    # A row written before the catalog checked server names: the services that connect check
    # again, so the allow-list's view of the name is the only one a driver ever gets.
    password = f"victim-{api.name('pw')}"
    credential = api.credential(
        suite, username="postgres", password=password, allowed=[f"127.0.0.1:{trap.port}"]
    )
    target = api.database_target(
        suite, engine="postgresql", server="127.0.0.1", port=trap.port, database="postgres"
    )
    control_db = suite.settings.control_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(control_db) as conn:
        conn.execute(
            "UPDATE targets SET server_name = ? WHERE target_id = ?",
            ("::ffff:127.0.0.1%x,127.0.0.2", target),
        )
    reply = _test_connection(suite, target, credential)
    assert not reply.ok
    assert "must be one host name" in reply.message
    assert trap.accepted == 0
    assert not trap.received(password)
