from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import pytest

from fleetjobs.core.sql import CanonicalType
from fleetjobs.executor.connectors import DatabaseAddress, Login, OdbcConnector, ScriptError, odbc
from fleetjobs.executor.connectors.odbc import build_odbc_connection_string, classify_odbc_error

TIMEOUT = 30.0
connector = OdbcConnector()
# MariaDB Connector/ODBC only accepts several statements in one call with this flag set
# (MULTI_STATEMENTS in its OPTION bit mask).
MARIADB_MULTI_STATEMENTS = "67108864"


@pytest.fixture
def pg_odbc(pg_address: DatabaseAddress, psqlodbc_driver: str) -> DatabaseAddress:
    return replace(pg_address, engine="odbc", options={"driver": psqlodbc_driver})


@pytest.fixture
def maria_odbc(maria_address: DatabaseAddress, mariadb_odbc_driver: str) -> DatabaseAddress:
    options = {"driver": mariadb_odbc_driver, "OPTION": MARIADB_MULTI_STATEMENTS}
    return replace(maria_address, engine="odbc", options=options)


# ------------------------------------------------------------------------------ psqlODBC


def test_postgresql_multi_statement_script_types_and_notices(
    pg_odbc: DatabaseAddress, pg_login: Login
) -> None:
    script = r"""
        CREATE TABLE item (id int, price numeric(6,2), label text, raw bytea, day date,
                           at timestamp, ratio float8, u uuid);
        INSERT INTO item VALUES (1, 12.34, 'one; two', '\x01ff', '2024-02-29',
                                 '2024-02-29 12:34:56', 0.5,
                                 '6f1c5d0e-8c2b-4c47-9a55-1f0f6e0d3b11');
        DO $$ BEGIN RAISE NOTICE 'hello from odbc'; END $$;
        SELECT id, price, label, raw, day, at, ratio, u FROM item;
        SELECT 'ignored' AS second;
    """
    outcome = connector.run_script(pg_odbc, pg_login, script, timeout_seconds=TIMEOUT)
    result = outcome.first_result_set
    assert result is not None
    assert [c.type for c in result.columns] == [
        CanonicalType.INTEGER,
        CanonicalType.DECIMAL,
        CanonicalType.TEXT,
        CanonicalType.BINARY,
        CanonicalType.DATE,
        CanonicalType.TIMESTAMP,
        CanonicalType.FLOAT,
        CanonicalType.TEXT,
    ]
    assert result.rows == [
        (
            1,
            decimal.Decimal("12.34"),
            "one; two",
            b"\x01\xff",
            dt.date(2024, 2, 29),
            dt.datetime(2024, 2, 29, 12, 34, 56),
            0.5,
            # psqlODBC reports uuid as text, in upper case.
            "6F1C5D0E-8C2B-4C47-9A55-1F0F6E0D3B11",
        )
    ]
    assert type(result.rows[0][3]) is bytes
    assert outcome.messages == ["NOTICE: hello from odbc"]


@pytest.mark.parametrize(
    "case",
    [
        ("SELEC 1", "syntax_error", "42601", 'syntax error at or near "SELEC"'),
        ("SELECT 1/0", "division_by_zero", "22012", "division by zero"),
        ("SELECT * FROM missing_table", "undefined_object", "42P01", "missing_table"),
    ],
)
def test_postgresql_errors_are_classified(
    pg_odbc: DatabaseAddress, pg_login: Login, case: tuple[str, str, str, str]
) -> None:
    script, error_class, sqlstate, message = case
    with pytest.raises(ScriptError) as caught:
        connector.run_script(pg_odbc, pg_login, script, timeout_seconds=TIMEOUT)
    assert caught.value.error_class == error_class
    assert caught.value.sqlstate == sqlstate
    assert message in caught.value.message


def test_postgresql_missing_database_hides_the_password(pg_odbc: DatabaseAddress) -> None:
    address = replace(pg_odbc, database_name="fjx_no_such_database")
    login = Login("postgres", "odbc-secret;pw")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, login, "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "invalid_database"
    assert "fjx_no_such_database" in caught.value.message
    assert "odbc-secret" not in caught.value.message


def test_postgresql_timeout(pg_odbc: DatabaseAddress, pg_login: Login) -> None:
    with pytest.raises(ScriptError) as caught:
        connector.run_script(pg_odbc, pg_login, "SELECT pg_sleep(20)", timeout_seconds=1)
    assert caught.value.error_class == "job_timeout"


def test_server_version(pg_odbc: DatabaseAddress, pg_login: Login) -> None:
    assert connector.server_version(pg_odbc, pg_login).startswith("PostgreSQL ")


# ------------------------------------------------------------------------------ MariaDB


def test_mariadb_multi_statement_script_with_a_hostile_password(
    maria_odbc: DatabaseAddress, maria_login: Login
) -> None:
    script = """
        CREATE TABLE item (id INT, label VARCHAR(20), raw VARBINARY(4), flag BIT(1));
        INSERT INTO item VALUES (1, 'one', x'01ff', b'1'), (2, 'two', NULL, b'0');
        SELECT id, label, raw, flag FROM item ORDER BY id;
        SELECT 'ignored';
    """
    outcome = connector.run_script(maria_odbc, maria_login, script, timeout_seconds=TIMEOUT)
    result = outcome.first_result_set
    assert result is not None
    assert [c.type for c in result.columns] == [
        CanonicalType.INTEGER,
        CanonicalType.TEXT,
        CanonicalType.BINARY,
        CanonicalType.INTEGER,
    ]
    assert result.rows == [(1, "one", b"\x01\xff", 1), (2, "two", None, 0)]


@pytest.mark.parametrize(
    "case",
    [
        ("SELEC 1", "syntax_error", "You have an error in your SQL syntax"),
        ("SELECT * FROM missing_table", "undefined_object", "doesn't exist"),
        # A failure in a later statement comes back as HY000 without a native code.
        ("CREATE TABLE t (a INT); INSERT INTO t VALUES (1/0)", "division_by_zero", "Division by 0"),
        ("SELECT 1; SELECT * FROM missing_table", "undefined_object", "doesn't exist"),
    ],
)
def test_mariadb_errors_are_classified(
    maria_odbc: DatabaseAddress, maria_login: Login, case: tuple[str, str, str]
) -> None:
    script, error_class, message = case
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_odbc, maria_login, script, timeout_seconds=TIMEOUT)
    assert caught.value.error_class == error_class
    assert message in caught.value.message


def test_mariadb_wrong_password(maria_odbc: DatabaseAddress, maria_login: Login) -> None:
    wrong = Login(maria_login.username, "wrong;pass}word")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_odbc, wrong, "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.error_class == "authentication_error"
    assert "wrong;pass" not in caught.value.message


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"driver": "PostgreSQL Unicode", "PWD": "x"}, "never carry a password"),
        ({"driver": "PostgreSQL Unicode", "Password": "x"}, "never carry a password"),
        ({"driver": "PostgreSQL Unicode", "SAVEFILE": "/tmp/leak.dsn"}, "SAVEFILE: is not allowed"),
        ({"driver": "PostgreSQL Unicode", "Server": "elsewhere"}, "Server: is not allowed"),
        ({"driver": "PostgreSQL Unicode", "dsn": "both"}, "data source name is not accepted"),
        ({"dsn": "My DSN"}, "data source name is not accepted"),
        ({}, "needs options[driver]"),
        ({"driver": "PostgreSQL Unicode", "bad;key": "x"}, "option names are 1-64 letters"),
        ({"driver": "PostgreSQL Unicode", "sslmode": "require;pqopt={x}"}, "must be one of"),
        ({"driver": "PostgreSQL Unicode", "sslmode": "a", "SSLMODE": "b"}, "given twice"),
        ({"driver": "SQLite3"}, "names no driver family"),
        ({"driver": "MariaDB Unicode", "OPTION": str(67108864 | 65536)}, "USE_MYCNF"),
    ],
)
def test_refuses_bad_options(options: dict[str, str], why: str) -> None:
    address = DatabaseAddress("odbc", "127.0.0.1", 5432, "postgres", options)
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, Login("u", "p"), "SELECT 1", timeout_seconds=TIMEOUT)
    assert caught.value.refused
    assert why in caught.value.message


def test_an_unregistered_driver_is_refused(psqlodbc_driver: str) -> None:
    address = DatabaseAddress(
        "odbc", "127.0.0.1", 5432, "postgres", {"driver": "PostgreSQL No Such Driver"}
    )
    with pytest.raises(ScriptError) as caught:
        connector.run_script(
            address, Login("user", "a-password"), "SELECT 1", timeout_seconds=TIMEOUT
        )
    assert caught.value.refused
    assert "'PostgreSQL No Such Driver' is not registered on this executor" in caught.value.message
    assert psqlodbc_driver in caught.value.message


def test_connection_string_escapes_and_passes_allowed_options_in_their_spelling() -> None:
    address = DatabaseAddress(
        "odbc",
        "db.example",
        5433,
        "plain",
        {"driver": "PostgreSQL Unicode", "sslmode": "require", "boolsaschar": "0"},
    )
    assert build_odbc_connection_string(address, Login("admin", "a;b}c")) == (
        "DRIVER=PostgreSQL Unicode;SERVER=db.example;PORT=5433;DATABASE=plain;"
        "UID=admin;PWD={a;b}}c};BoolsAsChar=0;SSLmode=require"
    )
    hostile = DatabaseAddress("odbc", "", 0, "we;ird}", {"driver": "MariaDB Unicode"})
    assert build_odbc_connection_string(hostile, None) == (
        "DRIVER=MariaDB Unicode;DATABASE={we;ird}}}"
    )


@pytest.mark.parametrize(
    "case",
    [
        ("42000", "[ma-3.1.15]Unknown database 'x' (1049) (SQLDriverConnect)", "invalid_database"),
        (
            "42000",
            "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Incorrect syntax near 'x'."
            " (102) (SQLExecDirectW)",
            "syntax_error",
        ),
        ("42S02", "Invalid object name 'x'. (208) (SQLExecDirectW)", "undefined_object"),
        ("HYT00", "Query timeout expired (0) (SQLExecDirectW)", "timeout"),
        ("08001", "could not connect (101) (SQLDriverConnect)", "connection_error"),
        ("HY000", "[ma-3.1.15]Division by 0 (0) (SQLMoreResults)", "division_by_zero"),
    ],
)
def test_classification_falls_back_to_native_codes_and_text(case: tuple[str, str, str]) -> None:
    sqlstate, message, error_class = case
    assert classify_odbc_error(sqlstate, message) == error_class


# ------------------------------------------------------------------------------ LOCAL INFILE


def test_mariadb_local_infile_is_refused_before_connecting(
    maria_odbc: DatabaseAddress,
    maria_login: Login,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MariaDB Connector/ODBC would read the file on this host and send it to the server
    # (docs/adr/0006): the script must not reach the driver at all.
    marker = f"fleetjobs-marker-{uuid.uuid4().hex}"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker + "\n")
    connector.run_script(
        maria_odbc, maria_login, "CREATE TABLE loot (line TEXT)", timeout_seconds=TIMEOUT
    )
    script = f"LOAD DATA LOCAL/**/INFILE '{secret}' INTO TABLE loot; SELECT line FROM loot"
    with monkeypatch.context() as patched:
        patched.setattr(odbc, "run_batches", _must_not_connect)
        with pytest.raises(ScriptError) as caught:
            connector.run_script(maria_odbc, maria_login, script, timeout_seconds=TIMEOUT)
    assert caught.value.refused
    assert caught.value.message == odbc.LOCAL_INFILE_REFUSED
    outcome = connector.run_script(
        maria_odbc, maria_login, "SELECT COUNT(*) FROM loot", timeout_seconds=TIMEOUT
    )
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [(0,)]


def test_mariadb_a_mention_of_local_infile_in_a_string_runs(
    maria_odbc: DatabaseAddress, maria_login: Login
) -> None:
    script = "SELECT 'LOAD DATA LOCAL INFILE' AS said /* LOCAL INFILE */"
    outcome = connector.run_script(maria_odbc, maria_login, script, timeout_seconds=TIMEOUT)
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [("LOAD DATA LOCAL INFILE",)]


def test_other_driver_families_are_not_checked_for_local_infile() -> None:
    odbc.refuse_local_infile("PostgreSQL Unicode", "SELECT 1; LOAD DATA LOCAL INFILE 'x'")
    with pytest.raises(ScriptError):
        odbc.refuse_local_infile("MySQL ODBC 8.0 Unicode Driver", "LOAD DATA LOCAL INFILE 'x'")


def _must_not_connect(*args: object, **kwargs: object) -> NoReturn:
    raise AssertionError("the script reached the driver")
