"""Options that would move a connection, or load code, never get the password out.

Every case points a smuggled option at an attacker's server on 127.0.0.2 (a fake PostgreSQL
or MySQL that asks for a clear-text password) while the target itself names 127.0.0.1, and
asserts that the connector refused, said why, and that the trap never saw the password nor
even a connection. Before the allow-list (docs/adr/0006) the ODBC cases handed the password
over.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fleetjobs.executor.connectors import (
    Connector,
    DatabaseAddress,
    Login,
    MysqlConnector,
    OdbcConnector,
    PostgresqlConnector,
    ScriptError,
    SqliteConnector,
)
from fleetjobs.executor.connectors.mssql import build_mssql_connection_string
from fleetjobs.testing._password_trap import MysqlPasswordTrap, PostgresPasswordTrap

PASSWORD = "trap-me-s3cret"
LOGIN = Login("fleet", PASSWORD)


@pytest.fixture
def pg_trap() -> Iterator[PostgresPasswordTrap]:
    with PostgresPasswordTrap() as trap:
        yield trap


@pytest.fixture
def mysql_trap() -> Iterator[MysqlPasswordTrap]:
    with MysqlPasswordTrap() as trap:
        yield trap


def _refused(connector: Connector, address: DatabaseAddress) -> str:
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, LOGIN, "SELECT 1", timeout_seconds=5)
    assert caught.value.refused, caught.value.message
    assert caught.value.error_class == "refused"
    assert PASSWORD not in caught.value.message
    return caught.value.message


def _library_path(driver: str) -> str:
    # odbcinst.ini's Driver= line: a bare file name resolves in the multiarch odbc directory.
    for ini in ("/etc/odbcinst.ini", os.path.expanduser("~/.odbcinst.ini")):
        if not os.path.exists(ini):
            continue
        section = ""
        for line in Path(ini).read_text().splitlines():
            if line.startswith("["):
                section = line.strip("[] ")
            elif section == driver and line.lower().startswith("driver="):
                name = line.split("=", 1)[1].strip()
                for folder in (
                    "",
                    "/usr/lib/x86_64-linux-gnu/odbc/",
                    "/usr/lib/aarch64-linux-gnu/odbc/",
                ):
                    if os.path.exists(folder + name):
                        return folder + name
    pytest.skip(f"no library path found for ODBC driver {driver!r}")
    raise AssertionError


# ------------------------------------------------------------------------------ PostgreSQL


def test_psqlodbc_pqopt_hostaddr(pg_trap: PostgresPasswordTrap, psqlodbc_driver: str) -> None:
    options = {"driver": psqlodbc_driver, "pqopt": "hostaddr=127.0.0.2"}
    address = DatabaseAddress("odbc", "127.0.0.1", pg_trap.port, "postgres", options)
    message = _refused(OdbcConnector(), address)
    assert "option pqopt: may only hold server settings, as options='-c name=value'" in message
    assert pg_trap.accepted == 0 and not pg_trap.received(PASSWORD)


@pytest.mark.parametrize(
    "pqopt",
    [
        "options='-c statement_timeout=1s' hostaddr=127.0.0.2",
        "options='-c a=b\\' hostaddr=127.0.0.2 x='",
        "options='-c a=b'' hostaddr=127.0.0.2",
    ],
)
def test_psqlodbc_pqopt_beyond_server_settings(
    pg_trap: PostgresPasswordTrap, psqlodbc_driver: str, pqopt: str
) -> None:
    options = {"driver": psqlodbc_driver, "pqopt": pqopt}
    address = DatabaseAddress("odbc", "127.0.0.1", pg_trap.port, "postgres", options)
    assert "option pqopt: may only hold server settings" in _refused(OdbcConnector(), address)
    assert pg_trap.accepted == 0 and not pg_trap.received(PASSWORD)


def test_psqlodbc_pqopt_server_settings_still_work(
    pg_address: DatabaseAddress, pg_login: Login, psqlodbc_driver: str
) -> None:
    # The documented way to ask for the server's client check through psqlODBC.
    pqopt = "options='-c client_connection_check_interval=5000 -c statement_timeout=7s'"
    address = replace(
        pg_address, engine="odbc", options={"driver": psqlodbc_driver, "pqopt": pqopt}
    )
    outcome = OdbcConnector().run_script(
        address,
        pg_login,
        "SELECT current_setting('client_connection_check_interval'), "
        "current_setting('statement_timeout')",
        timeout_seconds=10,
    )
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [("5s", "7s")]


@pytest.mark.parametrize(
    "options",
    [
        {"PQOPT": "hostaddr=127.0.0.2"},
        # A value that would close its braces and add a keyword of its own.
        {"sslmode": "disable};pqopt={hostaddr=127.0.0.2"},
        {"sslmode": "disable;pqopt={hostaddr=127.0.0.2}"},
    ],
)
def test_psqlodbc_smuggled_pqopt(
    pg_trap: PostgresPasswordTrap, psqlodbc_driver: str, options: dict[str, str]
) -> None:
    address = DatabaseAddress(
        "odbc", "127.0.0.1", pg_trap.port, "postgres", {"driver": psqlodbc_driver, **options}
    )
    message = _refused(OdbcConnector(), address)
    assert "connection options refused" in message
    assert pg_trap.accepted == 0 and not pg_trap.received(PASSWORD)


def test_a_driver_given_as_a_library_path_is_never_loaded(
    pg_trap: PostgresPasswordTrap, psqlodbc_driver: str
) -> None:
    # The real psqlODBC library, named by path: loading it would connect to the trap.
    options = {"driver": _library_path(psqlodbc_driver)}
    address = DatabaseAddress("odbc", "127.0.0.2", pg_trap.port, "postgres", options)
    message = _refused(OdbcConnector(), address)
    assert "never a path or a library" in message
    assert pg_trap.accepted == 0 and not pg_trap.received(PASSWORD)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"host": "127.0.0.2"}, "option host: is not allowed for engine postgresql"),
        ({"hostaddr": "127.0.0.2"}, "option hostaddr: is not allowed"),
        ({"service": "trap"}, "option service: is not allowed"),
        ({"passfile": "/tmp/pgpass"}, "never carry a password"),
        ({"sslmode": "disable hostaddr=127.0.0.2"}, "option sslmode: must be one of"),
    ],
)
def test_postgresql_options_that_move_the_connection(
    pg_trap: PostgresPasswordTrap, options: dict[str, str], why: str
) -> None:
    address = DatabaseAddress("postgresql", "127.0.0.1", pg_trap.port, "postgres", options)
    assert why in _refused(PostgresqlConnector(connection_check_seconds=0), address)
    assert pg_trap.accepted == 0 and not pg_trap.received(PASSWORD)


# ------------------------------------------------------------------------------ MySQL


@pytest.mark.parametrize("key", ["SOCKET", "socket"])
def test_mariadb_odbc_socket(
    mysql_trap: MysqlPasswordTrap, mariadb_odbc_driver: str, key: str
) -> None:
    options = {"driver": mariadb_odbc_driver, "OPTION": "67108864", key: mysql_trap.socket_path}
    address = DatabaseAddress("odbc", "127.0.0.1", 3306, "mysql", options)
    message = _refused(OdbcConnector(), address)
    assert f"option {key}: is not allowed for engine odbc with a MariaDB" in message
    assert "server_name, port and database_name" in message
    assert mysql_trap.accepted == 0 and not mysql_trap.received(PASSWORD)


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"PLUGIN_DIR": "/tmp"}, "option PLUGIN_DIR: is not allowed"),
        ({"INITSTMT": "SET @a=1"}, "option INITSTMT: is not allowed"),
        ({"OPTION": str(67108864 | 65536)}, "USE_MYCNF"),
        ({"SERVERNAME": "127.0.0.2"}, "option SERVERNAME: is not allowed"),
    ],
)
def test_mariadb_odbc_refusals(
    mysql_trap: MysqlPasswordTrap, mariadb_odbc_driver: str, options: dict[str, str], why: str
) -> None:
    address = DatabaseAddress(
        "odbc", "127.0.0.1", mysql_trap.port, "mysql", {"driver": mariadb_odbc_driver, **options}
    )
    assert why in _refused(OdbcConnector(), address)
    assert mysql_trap.accepted == 0 and not mysql_trap.received(PASSWORD)


def test_mysql_options_that_move_the_connection(
    mysql_trap: MysqlPasswordTrap, tmp_path: Path
) -> None:
    my_cnf = tmp_path / "my.cnf"
    my_cnf.write_text(f"[client]\nhost=127.0.0.2\nport={mysql_trap.port}\n")
    for options, why in [
        ({"unix_socket": mysql_trap.socket_path}, "option unix_socket: is not allowed"),
        ({"host": "127.0.0.2"}, "option host: is not allowed for engine mysql"),
        ({"read_default_file": str(my_cnf)}, "option read_default_file: is not allowed"),
        ({"charset": "utf8mb4;host=127.0.0.2"}, "option charset: must be letters"),
    ]:
        address = DatabaseAddress("mysql", "127.0.0.1", mysql_trap.port, "mysql", options)
        assert why in _refused(MysqlConnector(), address)
    assert mysql_trap.accepted == 0 and not mysql_trap.received(PASSWORD)


@pytest.mark.parametrize("key", ["ssl_ca", "ssl_cert", "ssl_key"])
def test_mysql_missing_tls_file_is_a_refusal_naming_the_option(
    mysql_trap: MysqlPasswordTrap, tmp_path: Path, key: str
) -> None:
    options = {"ssl_mode": "required", key: str(tmp_path / "absent.pem")}
    address = DatabaseAddress("mysql", "127.0.0.2", mysql_trap.port, "mysql", options)
    message = _refused(MysqlConnector(), address)
    assert f"option {key}: no file {tmp_path / 'absent.pem'} on this executor" in message
    assert mysql_trap.accepted == 0


def test_mysql_unusable_ca_file_is_a_refusal_naming_the_option(
    mysql_trap: MysqlPasswordTrap, tmp_path: Path
) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    options = {"ssl_mode": "verify_ca", "ssl_ca": str(bogus)}
    address = DatabaseAddress("mysql", "127.0.0.2", mysql_trap.port, "mysql", options)
    assert "option ssl_ca: " in _refused(MysqlConnector(), address)
    assert mysql_trap.accepted == 0


@pytest.mark.parametrize("key", ["sslrootcert", "sslcert", "sslkey", "sslcrl"])
def test_postgresql_missing_tls_file_is_a_refusal_naming_the_option(
    pg_trap: PostgresPasswordTrap, tmp_path: Path, key: str
) -> None:
    options = {"sslmode": "verify-full", key: str(tmp_path / "absent.pem")}
    address = DatabaseAddress("postgresql", "127.0.0.2", pg_trap.port, "postgres", options)
    message = _refused(PostgresqlConnector(), address)
    assert f"option {key}: no file {tmp_path / 'absent.pem'} on this executor" in message
    assert pg_trap.accepted == 0


# ------------------------------------------------------------------------------ others


def test_sqlite_takes_no_options(tmp_path: Path) -> None:
    address = DatabaseAddress("sqlite", "", 0, "a.db", {"uri": "file:/etc/passwd"})
    assert "option uri: is not allowed for engine sqlite" in _refused(
        SqliteConnector(tmp_path), address
    )


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"Address": "10.0.0.9"}, "option Address: is not allowed for engine mssql"),
        ({"Failover_Partner": "10.0.0.9"}, "option Failover_Partner: is not allowed"),
        ({"Authentication": "ActiveDirectoryPassword"}, "option Authentication: is not allowed"),
        ({"host_name_in_certificate": "a;Address=10.0.0.9"}, "must be a host name"),
        ({"driver": "/tmp/libevil.so"}, "never a path or a library"),
    ],
)
def test_sql_server_options_that_move_the_connection(options: dict[str, str], why: str) -> None:
    address = DatabaseAddress("mssql", "db.example", 0, "app", options)
    with pytest.raises(ScriptError) as caught:
        build_mssql_connection_string(address, LOGIN, driver="ODBC Driver 18 for SQL Server")
    assert caught.value.refused and why in caught.value.message
