from __future__ import annotations

import datetime as dt
import decimal
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pymysql
import pytest

from fleetjobs.core.sql import CanonicalType
from fleetjobs.executor.connectors import DatabaseAddress, Login, MysqlConnector, ScriptError
from fleetjobs.executor.connectors.mysql import connection_parameters, mysql_type_to_canonical

TIMEOUT = 30.0
connector = MysqlConnector()


def test_runs_a_multi_statement_script_and_keeps_the_first_result_set(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    # The login's password is full of ODBC and SQL delimiters: logging in at all shows it
    # travelled intact.
    script = """
        CREATE TABLE item (id INT PRIMARY KEY, label VARCHAR(40));
        INSERT INTO item VALUES (1, 'one'), (2, 'two; with a semicolon');
        CREATE PROCEDURE bump() BEGIN UPDATE item SET id = id + 10; SELECT 'from proc'; END;
        SELECT id, label FROM item ORDER BY id;
        SELECT 'ignored' AS second;
        CALL bump();
    """
    outcome = connector.run_script(maria_address, maria_login, script, timeout_seconds=TIMEOUT)
    result = outcome.first_result_set
    assert result is not None
    assert [(c.name, c.type) for c in result.columns] == [
        ("id", CanonicalType.INTEGER),
        ("label", CanonicalType.TEXT),
    ]
    assert result.rows == [(1, "one"), (2, "two; with a semicolon")]
    again = connector.run_script(
        maria_address, maria_login, "SELECT id FROM item ORDER BY id", timeout_seconds=TIMEOUT
    )
    assert again.first_result_set is not None
    assert again.first_result_set.rows == [(11,), (12,)]


def test_maps_types_onto_canonical_types(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    script = """
        CREATE TABLE typed (
            ti TINYINT, si SMALLINT, mi MEDIUMINT, i INT, bi BIGINT, flag TINYINT(1),
            y YEAR, bits BIT(3), f FLOAT, d DOUBLE, n DECIMAL(6,2),
            dt_ DATE, zero_date DATE, t TIME, long_t TIME, dtm DATETIME(3), ts TIMESTAMP NULL,
            vc VARCHAR(10), txt TEXT, vb VARBINARY(4), bl BLOB, nul_vb VARBINARY(4),
            js JSON, e ENUM('a','b')
        );
        SET SESSION sql_mode = '';
        INSERT INTO typed VALUES (
            -1, 2, 3, 4, 9007199254740993, 1,
            2024, b'101', 1.5, 2.25, 12.34,
            '2024-02-29', '0000-00-00', '12:34:56', '838:59:59', '2024-02-29 12:34:56.789',
            '2024-02-29 12:34:56',
            'vc', 'text', x'0102', x'ff00', NULL,
            '{"a": 1}', 'b'
        );
        SELECT * FROM typed;
    """
    outcome = connector.run_script(maria_address, maria_login, script, timeout_seconds=TIMEOUT)
    result = outcome.first_result_set
    assert result is not None
    types = {c.name: c.type for c in result.columns}
    values = dict(zip([c.name for c in result.columns], result.rows[0], strict=True))
    integer, text, binary = CanonicalType.INTEGER, CanonicalType.TEXT, CanonicalType.BINARY
    assert types == {
        "ti": integer, "si": integer, "mi": integer, "i": integer, "bi": integer,
        "flag": integer, "y": integer, "bits": integer,
        "f": CanonicalType.FLOAT, "d": CanonicalType.FLOAT, "n": CanonicalType.DECIMAL,
        "dt_": CanonicalType.DATE,
        # A zero date is no date, and 838 hours no time of day: those columns become text.
        "zero_date": text, "t": CanonicalType.TIME, "long_t": text,
        "dtm": CanonicalType.TIMESTAMP, "ts": CanonicalType.TIMESTAMP,
        "vc": text, "txt": text, "vb": binary, "bl": binary, "nul_vb": binary,
        "js": text, "e": text,
    }  # fmt: skip
    assert values == {
        "ti": -1, "si": 2, "mi": 3, "i": 4, "bi": 9007199254740993, "flag": 1, "y": 2024,
        "bits": 5, "f": 1.5, "d": 2.25, "n": decimal.Decimal("12.34"),
        "dt_": dt.date(2024, 2, 29), "zero_date": "0000-00-00", "t": dt.time(12, 34, 56),
        "long_t": "838:59:59", "dtm": dt.datetime(2024, 2, 29, 12, 34, 56, 789000),
        "ts": dt.datetime(2024, 2, 29, 12, 34, 56), "vc": "vc", "txt": "text",
        "vb": b"\x01\x02", "bl": b"\xff\x00", "nul_vb": None, "js": '{"a": 1}', "e": "b",
    }  # fmt: skip


def test_type_codes_without_a_collation_count_as_text() -> None:
    blob = 252
    assert mysql_type_to_canonical(blob, 63) is CanonicalType.BINARY
    assert mysql_type_to_canonical(blob, 45) is CanonicalType.TEXT
    assert mysql_type_to_canonical(blob, None) is CanonicalType.TEXT
    assert mysql_type_to_canonical(245, 63) is CanonicalType.TEXT  # MySQL's JSON


def test_collects_warnings(maria_address: DatabaseAddress, maria_login: Login) -> None:
    outcome = connector.run_script(
        maria_address, maria_login, "SELECT 1/0 AS nothing", timeout_seconds=TIMEOUT
    )
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [(None,)]
    assert outcome.messages == ["Warning 1365: Division by 0"]


@pytest.mark.parametrize(
    "case",
    [
        ("SELEC 1", "syntax_error", "You have an error in your SQL syntax"),
        ("SELECT * FROM missing_table", "undefined_object", "missing_table' doesn't exist"),
        ("SELECT missing_column FROM typed", "undefined_object", "Unknown column"),
        ("SELECT missing_function()", "undefined_object", "missing_function does not exist"),
        ("INSERT INTO typed VALUES (1/0)", "division_by_zero", "Division by 0"),
    ],
)
def test_classifies_errors_with_the_server_message(
    maria_address: DatabaseAddress, maria_login: Login, case: tuple[str, str, str]
) -> None:
    script, error_class, message = case
    # Strict mode (MariaDB's default) makes 1/0 in an INSERT an error rather than a warning.
    setup = (
        "CREATE TABLE typed (a INT);"
        " SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO';"
    )
    with pytest.raises(ScriptError) as caught:
        connector.run_script(
            maria_address, maria_login, f"{setup}\n{script}", timeout_seconds=TIMEOUT
        )
    assert caught.value.error_class == error_class
    assert message in caught.value.message
    assert not caught.value.refused


def test_stops_at_the_first_failing_statement(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    script = "CREATE TABLE kept (a INT); SELECT * FROM missing; CREATE TABLE never (a INT);"
    with pytest.raises(ScriptError):
        connector.run_script(maria_address, maria_login, script, timeout_seconds=TIMEOUT)
    check = connector.run_script(
        maria_address,
        maria_login,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
        timeout_seconds=TIMEOUT,
    )
    assert check.first_result_set is not None
    # Autocommit: the statement before the failure stays, the one after never ran.
    assert check.first_result_set.rows == [("kept",)]


def test_a_missing_database_is_invalid_database(maria_server: DatabaseAddress) -> None:
    address = replace(maria_server, database_name="fjx_no_such_database")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, Login("root", ""), "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "invalid_database"
    assert "Unknown database 'fjx_no_such_database'" in caught.value.message


def test_a_wrong_password_is_an_authentication_error_without_the_password(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    wrong = Login(maria_login.username, "wrong-password-123")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_address, wrong, "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "authentication_error"
    assert "Access denied" in caught.value.message
    assert "wrong-password-123" not in caught.value.message


def test_permission_denied(maria_address: DatabaseAddress, maria_login: Login) -> None:
    with pytest.raises(ScriptError) as caught:
        connector.run_script(
            maria_address, maria_login, "SELECT * FROM mysql.user", timeout_seconds=TIMEOUT
        )
    assert caught.value.error_class == "permission_denied"


def test_an_unreachable_server_is_a_connection_error() -> None:
    address = DatabaseAddress("mysql", "127.0.0.1", 1, "", {"connect_timeout": "2"})
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, Login("root", ""), "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "connection_error"


def test_the_timeout_kills_the_whole_script(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    script = "SELECT SLEEP(20); CREATE TABLE after_the_sleep (a INT);"
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_address, maria_login, script, timeout_seconds=0.5)
    assert caught.value.error_class == "job_timeout"
    check = connector.run_script(
        maria_address,
        maria_login,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
        timeout_seconds=TIMEOUT,
    )
    assert check.first_result_set is not None
    assert check.first_result_set.rows == [(0,)]


def test_the_servers_max_statement_time_is_timeout_not_the_jobs(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    script = "SET STATEMENT max_statement_time = 0.1 FOR SELECT SLEEP(5)"
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_address, maria_login, script, timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "timeout"
    assert "max_statement_time" in caught.value.message


def test_empty_scripts_run_nothing(maria_address: DatabaseAddress, maria_login: Login) -> None:
    for script in ("", ";", "-- only a comment"):
        outcome = connector.run_script(maria_address, maria_login, script, timeout_seconds=TIMEOUT)
        assert outcome.first_result_set is None


@pytest.mark.parametrize(
    "options",
    [{"password": "x"}, {"ssl_key_password": "x"}, {"sslmode": "required"}, {"ssl_mode": "on"}],
)
def test_refuses_password_and_unknown_options(
    maria_address: DatabaseAddress, maria_login: Login, options: dict[str, str]
) -> None:
    with pytest.raises(ScriptError) as caught:
        connector.run_script(
            replace(maria_address, options=options),
            maria_login,
            "SELECT 1",
            timeout_seconds=TIMEOUT,
        )
    assert caught.value.refused


def test_load_data_local_infile_reads_no_file_of_the_executor(
    maria_address: DatabaseAddress, maria_login: Login, tmp_path: Path
) -> None:
    # The server allows LOCAL INFILE (local_infile=ON here): PyMySQL, asked with
    # local_infile=False, neither offers the capability nor answers a request for a file
    # (docs/adr/0006, "Scripts that read executor files").
    marker = f"fleetjobs-marker-{uuid.uuid4().hex}"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker + "\n")
    assert connection_parameters(maria_address, maria_login)["local_infile"] is False
    connector.run_script(
        maria_address, maria_login, "CREATE TABLE loot (line TEXT)", timeout_seconds=TIMEOUT
    )
    script = f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE loot"
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_address, maria_login, script, timeout_seconds=TIMEOUT)
    assert marker not in caught.value.message
    outcome = connector.run_script(
        maria_address, maria_login, "SELECT COUNT(*) FROM loot", timeout_seconds=TIMEOUT
    )
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [(0,)]


def test_ssl_mode_required_does_not_fall_back_to_plain_text(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    # The local MariaDB has TLS disabled: "required" must fail rather than connect in clear.
    with pytest.raises(ScriptError) as caught:
        connector.run_script(
            replace(maria_address, options={"ssl_mode": "required"}),
            maria_login,
            "SELECT 1",
            timeout_seconds=TIMEOUT,
        )
    assert caught.value.error_class == "connection_error"
    disabled = connector.run_script(
        replace(maria_address, options={"ssl_mode": "disabled"}),
        maria_login,
        "SELECT 1",
        timeout_seconds=TIMEOUT,
    )
    assert disabled.first_result_set is not None


def test_server_version(maria_address: DatabaseAddress, maria_login: Login) -> None:
    assert "MariaDB" in connector.server_version(maria_address, maria_login)


# ------------------------------------------------------------------------------ dead clients

# A process of its own, so the test can kill it outright: the connector's own path, reporting
# its session as the executor records it, then waiting on a row lock the test holds (a lock
# wait outlives its client: MariaDB only notices the dead socket when it next writes to it).
_LOCK_WAITER = """
import sys
from fleetjobs.executor.connectors import DatabaseAddress, Login, MysqlConnector, attempt_session

host, port, database, user, password = sys.argv[1:6]
attempt_session.set(lambda session: print(session, flush=True))
MysqlConnector().run_script(
    DatabaseAddress("mysql", host, int(port), database),
    Login(user, password),
    "SET SESSION innodb_lock_wait_timeout = 600; SELECT id FROM held WHERE id = 1 FOR UPDATE",
    timeout_seconds=900,
)
"""


def _session_statement(thread_id: int) -> str | None:
    """What the session runs ("" when idle), or None when it is gone."""
    # As root: the test's login sees only its own sessions.
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(INFO, '') FROM information_schema.PROCESSLIST WHERE ID = %s",
                (thread_id,),
            )
            row = cursor.fetchone()
            return None if row is None else str(row[0])
    finally:
        admin.close()


def _session_alive(thread_id: int) -> bool:
    return _session_statement(thread_id) is not None


def _wait_until_waiting_for_the_lock(thread_id: int) -> None:
    # Generous: the bound only turns a hang into a failure.
    deadline = time.monotonic() + 30
    while "FOR UPDATE" not in (_session_statement(thread_id) or ""):
        assert time.monotonic() < deadline, "the script never reached its lock wait"
        time.sleep(0.1)


def test_a_dead_clients_session_is_ended_by_whoever_takes_over(
    maria_address: DatabaseAddress, maria_login: Login
) -> None:
    connector.run_script(
        maria_address,
        maria_login,
        "CREATE TABLE held (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO held VALUES (1)",
        timeout_seconds=TIMEOUT,
    )
    holder = pymysql.connect(
        host=maria_address.server_name,
        port=maria_address.port,
        user=maria_login.username,
        password=maria_login.password,
        database=maria_address.database_name,
        autocommit=False,
    )
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _LOCK_WAITER,
            maria_address.server_name,
            str(maria_address.port),
            maria_address.database_name,
            maria_login.username,
            maria_login.password,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM held WHERE id = 1 FOR UPDATE")
        assert waiter.stdout is not None
        session = waiter.stdout.readline().strip()
        assert session.isdigit(), session
        _wait_until_waiting_for_the_lock(int(session))
        waiter.send_signal(signal.SIGKILL)
        waiter.wait(30)
        time.sleep(1)
        assert _session_alive(int(session)), "the lock wait ended with its client after all"

        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        # Not the session of another database, of an id nobody holds, or of a server that
        # has restarted since the script began (it has been up for less time than that).
        elsewhere = replace(maria_address, database_name="mysql")
        assert not connector.end_orphaned_session(
            elsewhere, maria_login, session, running_since=since
        )
        assert not connector.end_orphaned_session(
            maria_address, maria_login, "999999999", running_since=since
        )
        before_boot = dt.datetime.now(dt.UTC) - dt.timedelta(days=3650)
        assert not connector.end_orphaned_session(
            maria_address, maria_login, session, running_since=before_boot
        )
        assert _session_alive(int(session))

        assert connector.end_orphaned_session(
            maria_address, maria_login, session, running_since=since
        )
        assert not _session_alive(int(session))
        assert not connector.end_orphaned_session(
            maria_address, maria_login, session, running_since=since
        )
    finally:
        holder.close()
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
