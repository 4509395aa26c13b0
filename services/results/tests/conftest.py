"""Destination databases for the results tests: a fresh, uniquely named database per test on
the real PostgreSQL and MariaDB servers (dropped afterwards), or a SQLite file under a temporary
root. An unreachable server skips the test with the reason, or fails it when CI=true."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pymysql
import pytest
from sqlalchemy import Engine, create_engine

from fleetjobs.results.destination import build_destination_url, destination_connect_args

POSTGRES_HOST = os.environ.get("FLEETJOBS_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("FLEETJOBS_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("FLEETJOBS_TEST_POSTGRES_USER", "postgres")
POSTGRES_PASSWORD = os.environ.get("FLEETJOBS_TEST_POSTGRES_PASSWORD", "")
MARIADB_HOST = os.environ.get("FLEETJOBS_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("FLEETJOBS_TEST_MARIADB_PORT", "3306"))
MARIADB_USER = os.environ.get("FLEETJOBS_TEST_MARIADB_USER", "root")
MARIADB_PASSWORD = os.environ.get("FLEETJOBS_TEST_MARIADB_PASSWORD", "")

ENGINES = [
    pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql"),
    pytest.param("mysql", marks=pytest.mark.mariadb, id="mariadb"),
    pytest.param("sqlite", id="sqlite"),
]


def absent(reason: str) -> None:
    """Skips the test, or fails it under CI=true: an absent server must not turn CI green."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: an unreachable server is a failure, not a skip)")
    pytest.skip(reason)


def unique_name() -> str:
    return f"fjr_{uuid.uuid4().hex[:16]}"


def _postgres_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        user=POSTGRES_USER,
        password=POSTGRES_PASSWORD or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


def _mariadb_admin() -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=MARIADB_USER,
        password=MARIADB_PASSWORD,
        connect_timeout=3,
        autocommit=True,
    )


@functools.cache
def _unreachable(engine: str) -> str | None:
    """Why the server for `engine` cannot be used, or None; asked once per session."""
    try:
        if engine == "postgresql":
            _postgres_admin().close()
        elif engine == "mysql":
            _mariadb_admin().close()
    except (psycopg.Error, pymysql.Error) as error:
        where = (
            f"PostgreSQL at {POSTGRES_HOST}:{POSTGRES_PORT}"
            if engine == "postgresql"
            else f"MariaDB at {MARIADB_HOST}:{MARIADB_PORT}"
        )
        return f"{where} is not reachable: {error}"
    return None


def _engine(url_engine: str, database: str, sqlite_root: Path) -> Engine:
    if url_engine == "postgresql":
        host, port, user, password = POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD
    else:
        host, port, user, password = MARIADB_HOST, MARIADB_PORT, MARIADB_USER, MARIADB_PASSWORD
    url = build_destination_url(
        url_engine, host, port, database, user, password, sqlite_root=sqlite_root
    )
    return create_engine(
        url, pool_size=8, connect_args=destination_connect_args(url_engine, password)
    )


@pytest.fixture
def sqlite_root(tmp_path: Path) -> Path:
    root = tmp_path / "sqlite"
    root.mkdir()
    return root


@contextmanager
def destination_database(kind: str, sqlite_root: Path) -> Iterator[Engine]:
    """A SQLAlchemy engine on a new, empty database of `kind`, dropped afterwards."""
    if kind == "sqlite":
        url = build_destination_url("sqlite", "", 0, "dest.db", "", "", sqlite_root=sqlite_root)
        engine = create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    reason = _unreachable(kind)
    if reason is not None:
        absent(reason)
    name = unique_name()
    # The name is generated above (letters, digits, '_'), so formatting it into DDL is safe.
    if kind == "postgresql":
        with _postgres_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    else:
        with _mariadb_admin() as admin, admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    engine = _engine(kind, name, sqlite_root)
    try:
        yield engine
    finally:
        engine.dispose()
        if kind == "postgresql":
            with _postgres_admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            with _mariadb_admin() as admin, admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def destination_engine(request: pytest.FixtureRequest, sqlite_root: Path) -> Iterator[Engine]:
    with destination_database(request.param, sqlite_root) as engine:
        yield engine


@pytest.fixture
def open_destination(sqlite_root: Path) -> Iterator[Callable[[str], Engine]]:
    """Opens new databases of any engine within one test (all dropped afterwards)."""
    with ExitStack() as stack:
        count = iter(range(1_000_000))

        def open_one(kind: str) -> Engine:
            root = sqlite_root / f"db{next(count)}"
            root.mkdir()
            return stack.enter_context(destination_database(kind, root))

        yield open_one


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test asking for `destination_engine` runs once per destination engine.
    if "destination_engine" in metafunc.fixturenames:
        metafunc.parametrize("destination_engine", ENGINES, indirect=True)


@pytest.fixture
def postgres_engine(sqlite_root: Path) -> Iterator[Engine]:
    with destination_database("postgresql", sqlite_root) as engine:
        yield engine
