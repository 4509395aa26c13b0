"""Real-server fixtures for the connector tests: a fresh PostgreSQL or MariaDB database per
test, dropped afterwards, and the ODBC driver names this host has installed.

An unreachable server or a missing driver skips with the reason locally and fails when CI is
`true`: an absent server must not turn CI green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pymysql
import pytest

from fleetjobs.executor.connectors import DatabaseAddress, Login
from fleetjobs.testing._fleet import mariadb_user

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
MARIADB_HOST, MARIADB_PORT, MARIADB_USER = "127.0.0.1", 3306, "root"


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing server or driver is a failure, not a skip)")
    pytest.skip(reason)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------ PostgreSQL


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(scope="session")
def pg_server() -> DatabaseAddress:
    """The PostgreSQL server, addressed at its `postgres` database."""
    try:
        _pg_admin().close()
    except psycopg.Error as error:
        unavailable(f"PostgreSQL on {PG_HOST}:{PG_PORT} is not reachable: {error}")
    return DatabaseAddress("postgresql", PG_HOST, PG_PORT, "postgres")


@pytest.fixture
def pg_login() -> Login:
    # The shared server trusts every login: the password is carried, never checked.
    return Login(PG_USER, "pg-password-not-checked")


@pytest.fixture
def pg_database(pg_server: DatabaseAddress) -> Iterator[str]:
    """The name of an empty PostgreSQL database that lives for one test."""
    name = unique_name("fjx_pg")
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _pg_admin() as admin:
            # FORCE: a test that failed half-way may have left a session behind.
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_address(pg_server: DatabaseAddress, pg_database: str) -> DatabaseAddress:
    return replace(pg_server, database_name=pg_database)


# ------------------------------------------------------------------------------ MariaDB


def _maria_admin() -> pymysql.connections.Connection:
    return pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=MARIADB_USER,
        password="",
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(scope="session")
def maria_server() -> DatabaseAddress:
    """The MariaDB server, with no database selected."""
    try:
        _maria_admin().close()
    except pymysql.Error as error:
        unavailable(f"MariaDB on {MARIADB_HOST}:{MARIADB_PORT} is not reachable: {error}")
    return DatabaseAddress("mysql", MARIADB_HOST, MARIADB_PORT, "")


@pytest.fixture
def maria_database(maria_server: DatabaseAddress) -> Iterator[str]:
    """The name of an empty MariaDB database (schema) that lives for one test."""
    name = unique_name("fjx_my")
    admin = _maria_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


# A password with every character an ODBC connection string or a driver treats specially.
HOSTILE_PASSWORD = "p;w}{=d' \"x%+"


@pytest.fixture
def maria_address(maria_server: DatabaseAddress, maria_database: str) -> DatabaseAddress:
    return replace(maria_server, database_name=maria_database)


@pytest.fixture
def maria_login(maria_database: str) -> Iterator[Login]:
    """A MariaDB user of its own, granted everything on the test's database, whose password
    is hostile; MariaDB checks passwords, so a wrongly escaped one fails to log in."""
    user = unique_name("fjx_u")
    with mariadb_user(user, HOSTILE_PASSWORD, databases=[maria_database]):
        yield Login(user, HOSTILE_PASSWORD)


# ------------------------------------------------------------------------------ ODBC


def installed_odbc_drivers() -> list[str]:
    """Driver names as odbcinst lists them (`[PostgreSQL Unicode]` …); empty without it."""
    odbcinst = shutil.which("odbcinst")
    if odbcinst is None:
        return []
    listing = subprocess.run(
        [odbcinst, "-q", "-d"], capture_output=True, text=True, check=False, timeout=10
    )
    return [
        line.strip()[1:-1]
        for line in listing.stdout.splitlines()
        if line.strip().startswith("[") and line.strip().endswith("]")
    ]


def _odbc_driver(prefix: str, package: str) -> str:
    try:
        import pyodbc  # noqa: F401 - only whether it loads matters here
    except ImportError as error:
        unavailable(f"pyodbc cannot be imported (is unixODBC installed?): {error}")
    drivers = installed_odbc_drivers()
    unicode_first = sorted(drivers, key=lambda name: "unicode" not in name.lower())
    for name in unicode_first:
        if name.lower().startswith(prefix.lower()):
            return name
    unavailable(f"no {prefix} ODBC driver installed (install {package}; odbcinst lists: {drivers})")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def psqlodbc_driver() -> str:
    return _odbc_driver("PostgreSQL", "odbc-postgresql")


@pytest.fixture(scope="session")
def mariadb_odbc_driver() -> str:
    return _odbc_driver("MariaDB", "odbc-mariadb")
