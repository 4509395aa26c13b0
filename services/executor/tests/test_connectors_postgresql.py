from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import psycopg
import pytest

from fleetjobs.core.sql import CanonicalType
from fleetjobs.executor.connectors import (
    DatabaseAddress,
    Login,
    PostgresqlConnector,
    ScriptError,
)

TIMEOUT = 30.0
connector = PostgresqlConnector()


def test_runs_a_multi_statement_script_and_keeps_the_first_result_set(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    script = """
        CREATE TABLE item (id int PRIMARY KEY, label text);
        INSERT INTO item VALUES (1, 'one'), (2, 'two; with a semicolon');
        CREATE FUNCTION twice(x int) RETURNS int LANGUAGE plpgsql AS $$
        BEGIN RETURN x * 2; END; $$;
        SELECT id, twice(id) AS doubled, label FROM item ORDER BY id;
        SELECT 'ignored' AS second;
        UPDATE item SET label = 'changed' WHERE id = 1;
    """
    outcome = connector.run_script(pg_address, pg_login, script, timeout_seconds=TIMEOUT)

    result = outcome.first_result_set
    assert result is not None
    assert [(c.name, c.type) for c in result.columns] == [
        ("id", CanonicalType.INTEGER),
        ("doubled", CanonicalType.INTEGER),
        ("label", CanonicalType.TEXT),
    ]
    assert result.rows == [(1, 2, "one"), (2, 4, "two; with a semicolon")]
    # The statements after the first result set ran too.
    again = connector.run_script(
        pg_address, pg_login, "SELECT label FROM item WHERE id = 1", timeout_seconds=TIMEOUT
    )
    assert again.first_result_set is not None
    assert again.first_result_set.rows == [("changed",)]


def test_a_script_without_rows_has_no_result_set(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    outcome = connector.run_script(
        pg_address, pg_login, "CREATE TABLE t (a int); -- done", timeout_seconds=TIMEOUT
    )
    assert outcome.first_result_set is None
    empty = connector.run_script(pg_address, pg_login, "  -- nothing\n", timeout_seconds=TIMEOUT)
    assert empty.first_result_set is None


def test_maps_types_onto_canonical_types(pg_address: DatabaseAddress, pg_login: Login) -> None:
    script = r"""
        CREATE TYPE mood AS ENUM ('happy', 'sad');
        SELECT true AS b, 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8,
               4::oid AS o, 1.5::float4 AS f4, 2.25::float8 AS f8, 12.34::numeric(6,2) AS n,
               'x'::text AS t, 'v'::varchar AS vc, 'c'::char(3) AS bp, 'nm'::name AS nm,
               '6f1c5d0e-8c2b-4c47-9a55-1f0f6e0d3b11'::uuid AS u, '{"a": 1}'::json AS j,
               '{"b":2}'::jsonb AS jb, '\x0102ff'::bytea AS by, '2024-02-29'::date AS d,
               '12:34:56.5'::time AS tm, '12:34:56+02'::timetz AS ttz,
               '2024-02-29 12:34:56'::timestamp AS ts,
               '2024-02-29 12:34:56+02'::timestamptz AS tstz,
               ARRAY[1, 2] AS arr, '1 day 02:00:00'::interval AS iv, '10.0.0.1/8'::inet AS net,
               'happy'::mood AS m, 'infinity'::date AS dinf, NULL::int AS nul
    """
    outcome = connector.run_script(pg_address, pg_login, script, timeout_seconds=TIMEOUT)
    result = outcome.first_result_set
    assert result is not None
    types = {c.name: c.type for c in result.columns}
    values = dict(zip([c.name for c in result.columns], result.rows[0], strict=True))

    integer, text = CanonicalType.INTEGER, CanonicalType.TEXT
    assert types == {
        "b": integer, "i2": integer, "i4": integer, "i8": integer, "o": integer,
        "f4": CanonicalType.FLOAT, "f8": CanonicalType.FLOAT, "n": CanonicalType.DECIMAL,
        "t": text, "vc": text, "bp": text, "nm": text, "u": text, "j": text, "jb": text,
        "by": CanonicalType.BINARY, "d": CanonicalType.DATE, "tm": CanonicalType.TIME,
        "ttz": CanonicalType.TIME, "ts": CanonicalType.TIMESTAMP, "tstz": CanonicalType.TIMESTAMP,
        "arr": text, "iv": text, "net": text, "m": text,
        # 'infinity' has no Python date: the column falls back to PostgreSQL's text.
        "dinf": text, "nul": integer,
    }  # fmt: skip
    assert values == {
        "b": 1, "i2": 1, "i4": 2, "i8": 9007199254740993, "o": 4, "f4": 1.5, "f8": 2.25,
        "n": decimal.Decimal("12.34"), "t": "x", "vc": "v", "bp": "c  ", "nm": "nm",
        "u": "6f1c5d0e-8c2b-4c47-9a55-1f0f6e0d3b11", "j": '{"a": 1}', "jb": '{"b": 2}',
        "by": b"\x01\x02\xff", "d": dt.date(2024, 2, 29), "tm": dt.time(12, 34, 56, 500000),
        "ttz": dt.time(12, 34, 56, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "ts": dt.datetime(2024, 2, 29, 12, 34, 56),
        "tstz": dt.datetime(2024, 2, 29, 10, 34, 56, tzinfo=dt.UTC),
        "arr": "{1,2}", "iv": "1 day 02:00:00", "net": "10.0.0.1/8", "m": "happy",
        "dinf": "infinity", "nul": None,
    }  # fmt: skip
    assert type(values["b"]) is int
    assert type(values["by"]) is bytes


def test_collects_notices(pg_address: DatabaseAddress, pg_login: Login) -> None:
    script = """
        DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$;
        DROP TABLE IF EXISTS nothing_here;
        SELECT 1 AS one;
    """
    outcome = connector.run_script(pg_address, pg_login, script, timeout_seconds=TIMEOUT)
    assert outcome.messages == [
        "NOTICE: hello 42",
        'NOTICE: table "nothing_here" does not exist, skipping',
    ]


@pytest.mark.parametrize(
    "case",
    [
        ("SELEC 1", "syntax_error", "42601", 'syntax error at or near "SELEC"'),
        ("SELECT 1/0", "division_by_zero", "22012", "division by zero"),
        ("SELECT * FROM missing_table", "undefined_object", "42P01", 'relation "missing_table"'),
        ("SELECT missing_column FROM pg_class", "undefined_object", "42703", "missing_column"),
        ("SELECT missing_function()", "undefined_object", "42883", "missing_function()"),
    ],
)
def test_classifies_errors_with_the_server_message(
    pg_address: DatabaseAddress, pg_login: Login, case: tuple[str, str, str, str]
) -> None:
    script, error_class, sqlstate, message = case
    with pytest.raises(ScriptError) as caught:
        connector.run_script(pg_address, pg_login, script, timeout_seconds=TIMEOUT)
    assert caught.value.error_class == error_class
    assert caught.value.sqlstate == sqlstate
    assert message in caught.value.message
    assert not caught.value.refused


def test_permission_denied(pg_address: DatabaseAddress, pg_login: Login) -> None:
    role = f"{pg_address.database_name}_reader"
    setup = f"""
        CREATE TABLE secret (a int);
        REVOKE ALL ON secret FROM PUBLIC;
        CREATE ROLE {role} LOGIN;
    """
    connector.run_script(pg_address, pg_login, setup, timeout_seconds=TIMEOUT)
    try:
        with pytest.raises(ScriptError) as caught:
            connector.run_script(
                pg_address, Login(role, ""), "SELECT * FROM secret", timeout_seconds=TIMEOUT
            )
        assert caught.value.error_class == "permission_denied"
        assert "permission denied" in caught.value.message
    finally:
        connector.run_script(
            pg_address, pg_login, f"DROP TABLE secret; DROP ROLE {role}", timeout_seconds=TIMEOUT
        )


def test_a_failure_keeps_the_notices_before_it_and_undoes_the_script(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    # One simple-protocol Query message is one implicit transaction: the CREATE TABLE before
    # the failing statement is rolled back with it.
    script = """
        CREATE TABLE undone (a int);
        DO $$ BEGIN RAISE NOTICE 'before the failure'; END $$;
        SELECT 1/0;
    """
    with pytest.raises(ScriptError) as caught:
        connector.run_script(pg_address, pg_login, script, timeout_seconds=TIMEOUT)
    assert caught.value.messages == ["NOTICE: before the failure"]
    check = connector.run_script(
        pg_address,
        pg_login,
        "SELECT to_regclass('undone') IS NULL AS gone",
        timeout_seconds=TIMEOUT,
    )
    assert check.first_result_set is not None
    assert check.first_result_set.rows == [(1,)]


def test_a_missing_database_is_invalid_database_and_hides_the_password(
    pg_server: DatabaseAddress,
) -> None:
    address = replace(pg_server, database_name="fjx_no_such_database")
    login = Login("postgres", "pg-secret-password")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, login, "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "invalid_database"
    assert 'database "fjx_no_such_database" does not exist' in caught.value.message
    assert "pg-secret-password" not in caught.value.message


def test_an_unreachable_server_is_a_connection_error() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    address = DatabaseAddress("postgresql", "127.0.0.1", 1, "postgres", {"connect_timeout": "2"})
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, Login("postgres", "x"), "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "connection_error"


def test_the_timeout_cancels_the_script(pg_address: DatabaseAddress, pg_login: Login) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptError) as caught:
        connector.run_script(pg_address, pg_login, "SELECT pg_sleep(30)", timeout_seconds=0.5)
    assert caught.value.error_class == "job_timeout"
    assert "canceling statement" in caught.value.message
    # Only a sanity bound: the cancel must have landed long before pg_sleep's 30 s.
    assert time.monotonic() - started < 20


def test_the_servers_own_statement_timeout_is_timeout_not_the_jobs(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    script = "SET statement_timeout = 100; SELECT pg_sleep(5)"
    with pytest.raises(ScriptError) as caught:
        connector.run_script(pg_address, pg_login, script, timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "timeout"
    assert caught.value.sqlstate == "57014"
    assert "statement timeout" in caught.value.message


def test_options_set_application_name_and_sslmode(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    address = replace(pg_address, options={"sslmode": "disable", "connect_timeout": "5"})
    outcome = connector.run_script(
        address, pg_login, "SELECT current_setting('application_name')", timeout_seconds=TIMEOUT
    )
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [("fleetjobs",)]


@pytest.mark.parametrize("options", [{"password": "x"}, {"passfile": "/tmp/x"}, {"ssl_mode": "on"}])
def test_refuses_password_and_unknown_options(
    pg_address: DatabaseAddress, pg_login: Login, options: dict[str, str]
) -> None:
    address = replace(pg_address, options=options)
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, pg_login, "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.refused
    assert caught.value.error_class == "refused"


def test_server_version(pg_address: DatabaseAddress, pg_login: Login) -> None:
    version = connector.server_version(pg_address, pg_login)
    assert version.startswith("PostgreSQL ")
    with psycopg.connect(host=pg_address.server_name, user="postgres", dbname="postgres") as conn:
        assert str(conn.info.server_version // 10000) in version


# ------------------------------------------------------------------------------ dead clients

# A process of its own, so the test can kill it outright: the connector's own connect path and
# its default settings, running a statement that would last ten minutes.
_SLEEPER = """
import sys
from fleetjobs.executor.connectors import DatabaseAddress, Login, PostgresqlConnector

host, port, database, user = sys.argv[1:5]
PostgresqlConnector().run_script(
    DatabaseAddress("postgresql", host, int(port), database),
    Login(user, "not-checked"),
    "SELECT pg_sleep(600)",
    timeout_seconds=900,
)
"""


def _backends(address: DatabaseAddress) -> list[int]:
    """fleetjobs' sessions on the address's database."""
    with psycopg.connect(
        host=address.server_name, port=address.port, user="postgres", dbname="postgres"
    ) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (address.database_name, "fleetjobs"),
        ).fetchall()
    return [int(row[0]) for row in rows]


def _wait_for(condition: Callable[[], bool], what: str, *, seconds: float = 60) -> None:
    # Generous: the bound only turns a hang into a failure, it measures nothing.
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting until {what}")
        time.sleep(0.1)


def test_a_killed_clients_statement_ends_on_the_server(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    sleeper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SLEEPER,
            pg_address.server_name,
            str(pg_address.port),
            pg_address.database_name,
            pg_login.username,
        ]
    )
    try:
        _wait_for(lambda: len(_backends(pg_address)) == 1, "pg_sleep runs")
        (backend,) = _backends(pg_address)
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait(30)
        # Without the check the backend would sleep out its ten minutes.
        _wait_for(
            lambda: backend not in _backends(pg_address),
            "the server ended the dead client's statement",
        )
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_the_connection_check_comes_before_the_targets_own_options(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    script = (
        "SELECT current_setting('client_connection_check_interval') AS checked,"
        " current_setting('statement_timeout') AS timeout"
    )
    checked = PostgresqlConnector(connection_check_seconds=2.5)
    outcome = checked.run_script(pg_address, pg_login, script, timeout_seconds=TIMEOUT)
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [("2500ms", "0")]

    own = replace(pg_address, options={"options": "-c statement_timeout=4s"})
    outcome = checked.run_script(own, pg_login, script, timeout_seconds=TIMEOUT)
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [("2500ms", "4s")]

    # A target that sets the check itself keeps its own value.
    own = replace(pg_address, options={"options": "-c client_connection_check_interval=7s"})
    outcome = checked.run_script(own, pg_login, script, timeout_seconds=TIMEOUT)
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [("7s", "0")]


class _OldServer:
    """Stands in for a PostgreSQL 13 server in front of the real one: a start-up packet asking
    for client_connection_check_interval gets the FATAL error 13 answers with; any other is
    passed on to the real server, and the session with it."""

    def __init__(self, upstream: DatabaseAddress) -> None:
        self._upstream = (upstream.server_name, upstream.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.refused = 0
        self.passed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        packet = _read_packet(client)
        # SSLRequest / GSSENCRequest: "N", and the start-up packet follows in the clear.
        while int.from_bytes(packet[4:8], "big") in (80877103, 80877104):
            client.sendall(b"N")
            packet = _read_packet(client)
        if b"client_connection_check_interval" in packet:
            self.refused += 1
            fields = (
                b"SFATAL\0VFATAL\0C42704\0"
                b'Munrecognized configuration parameter "client_connection_check_interval"\0\0'
            )
            client.sendall(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
            client.close()
            return
        self.passed += 1
        upstream = socket.create_connection(self._upstream)
        upstream.sendall(packet)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


def _read_packet(sock: socket.socket) -> bytes:
    head = _read_exactly(sock, 4)
    return head + _read_exactly(sock, int.from_bytes(head, "big") - 4)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def test_a_server_older_than_14_is_connected_to_without_the_check(
    pg_address: DatabaseAddress, pg_login: Login
) -> None:
    old = _OldServer(pg_address)
    try:
        address = replace(pg_address, server_name="127.0.0.1", port=old.port)
        checked = PostgresqlConnector()
        script = "SELECT current_setting('client_connection_check_interval')"
        outcome = checked.run_script(address, pg_login, script, timeout_seconds=TIMEOUT)
        assert outcome.first_result_set is not None
        assert outcome.first_result_set.rows == [("0",)]  # the server's own default
        assert (old.refused, old.passed) == (1, 1)

        # Remembered: the next session goes straight to a start-up it accepts.
        assert checked.server_version(address, pg_login).startswith("PostgreSQL ")
        assert (old.refused, old.passed) == (1, 2)
    finally:
        old.close()
