"""Reaching the real servers tests use, and the rule for when one is absent: skip with the
reason locally, fail under CI=true (an absent server must not turn CI green)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "FLEETJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MARIADB_HOST = os.environ.get("FLEETJOBS_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("FLEETJOBS_TEST_MARIADB_PORT", "3306"))
MARIADB_USER = os.environ.get("FLEETJOBS_TEST_MARIADB_USER", "root")
MARIADB_PASSWORD = os.environ.get("FLEETJOBS_TEST_MARIADB_PASSWORD", "")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def absent(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: an absent server is a failure, not a skip)")
    pytest.skip(reason)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def postgres_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error}"


def mariadb_available() -> str | None:
    import pymysql

    try:
        pymysql.connect(
            host=MARIADB_HOST,
            port=MARIADB_PORT,
            user=MARIADB_USER,
            password=MARIADB_PASSWORD,
            connect_timeout=3,
        ).close()
        return None
    except pymysql.Error as error:
        return f"MariaDB at {MARIADB_HOST}:{MARIADB_PORT} is not reachable: {error}"


def postgres_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@contextmanager
def postgres_databases(count: int, prefix: str = "fjt") -> Iterator[list[str]]:
    """Creates `count` empty PostgreSQL databases and drops them afterwards."""
    import psycopg

    names = [unique_name(prefix) for _ in range(count)]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def mariadb_databases(count: int, prefix: str = "fjt") -> Iterator[list[str]]:
    import pymysql

    names = [unique_name(prefix) for _ in range(count)]
    conn = pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=MARIADB_USER,
        password=MARIADB_PASSWORD,
        autocommit=True,
    )
    try:
        with conn.cursor() as cursor:
            for name in names:
                cursor.execute(f"CREATE DATABASE `{name}`")
        yield names
    finally:
        with conn.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def odbc_driver(fragment: str) -> str:
    """The installed unixODBC driver whose name contains `fragment` (e.g. "PostgreSQL
    Unicode"); absent() when pyodbc, libodbc or the driver is missing."""
    try:
        import pyodbc
    except ImportError as error:
        absent(f"pyodbc cannot load (is unixodbc installed? `make system-deps`): {error}")
        raise
    for name in pyodbc.drivers():
        if fragment.lower() in name.lower():
            return str(name)
    absent(f"no ODBC driver matching {fragment!r} (installed: {pyodbc.drivers()})")
    raise AssertionError("unreachable")


def postgres_sleeping(databases: list[str]) -> int:
    """How many statements calling pg_sleep run on these databases of the test server."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(%s) "
            "AND query ILIKE '%%pg_sleep%%' AND pid <> pg_backend_pid()",
            (databases,),
        ).fetchone()
    return int(row[0]) if row else 0
