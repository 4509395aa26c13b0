"""A fleet of real target databases for end-to-end tests: PostgreSQL and MariaDB databases
owned by a fresh login with a real password, and SQLite files under the suite's root."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
import pymysql

from fleetjobs.testing._servers import (
    MARIADB_HOST,
    MARIADB_PASSWORD,
    MARIADB_PORT,
    MARIADB_USER,
    POSTGRES_ADMIN_URL,
    unique_name,
)


@dataclass
class Login:
    username: str
    password: str = field(repr=False)


@contextmanager
def postgres_login_with_databases(
    count: int, *, username: str, password: str
) -> Iterator[list[str]]:
    """A PostgreSQL role owning `count` new databases (the local server trusts every login,
    so the password is not checked here: MariaDB tests that)."""
    names = [unique_name("fjt_pg") for _ in range(count)]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{username}\" LOGIN PASSWORD '{password}'")
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{username}"')
    try:
        yield names
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{username}"')


def _mariadb_admin() -> pymysql.connections.Connection:
    # utf8mb4: a password is hashed from the bytes it arrives in, and fleetjobs logs in with
    # its UTF-8 bytes.
    return pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=MARIADB_USER,
        password=MARIADB_PASSWORD,
        charset="utf8mb4",
        autocommit=True,
    )


@contextmanager
def mariadb_user(username: str, password: str, *, databases: Sequence[str]) -> Iterator[None]:
    """A MariaDB user (password checked by the server) with all rights on `databases`, which
    exist; dropped afterwards."""
    conn = _mariadb_admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (username, password))
            for name in databases:
                cursor.execute(f"GRANT ALL ON `{name}`.* TO %s@'%%'", (username,))
        yield
    finally:
        with conn.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (username,))
        conn.close()


@contextmanager
def mariadb_login_with_databases(
    count: int, *, username: str, password: str
) -> Iterator[list[str]]:
    """A MariaDB user (password checked by the server) with all rights on `count` new
    databases."""
    names = [unique_name("fjt_my") for _ in range(count)]
    conn = _mariadb_admin()
    try:
        with conn.cursor() as cursor:
            for name in names:
                cursor.execute(f"CREATE DATABASE `{name}`")
        with mariadb_user(username, password, databases=names):
            yield names
    finally:
        with conn.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def set_mariadb_password(username: str, password: str) -> None:
    conn = _mariadb_admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (username, password))
    finally:
        conn.close()


def new_login() -> Login:
    # Characters that break naive connection strings and URLs, on purpose.
    return Login(username=unique_name("fjt_user"), password=f"p@ss;w:rd/{secrets.token_hex(8)}")
