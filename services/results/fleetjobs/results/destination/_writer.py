"""Writes one database's result set into the destination table, replacing what the same
database wrote earlier for the same execution."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, inspect, select, text
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.exc import DBAPIError

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination._errors import DestinationRefusedError, ResultSetMismatchError
from fleetjobs.results.destination._names import (
    check_result_columns,
    validate_identifier,
)
from fleetjobs.results.destination._table import BoundTable, definition, fit, qualified
from fleetjobs.results.destination._types import SUPPORTED_ENGINES

log = logging.getLogger(__name__)

# Tries of one write: a lost race to create the table, a deadlock or a busy SQLite file each
# cost one more.
_ATTEMPTS = 5
# How long a MySQL writer waits for another writer of the same database's rows.
_LOCK_TIMEOUT_SECONDS = 120


class _CreateFailedError(Exception):
    """CREATE TABLE failed; the caller looks whether another writer created it meanwhile."""

    def __init__(self, original: DBAPIError) -> None:
        super().__init__(str(original))
        self.original = original


class DestinationWriter:
    """Writes result sets into tables of one destination database.

    The engine is a synchronous SQLAlchemy engine for postgresql (psycopg), mysql (pymysql)
    or sqlite; `write_result_set` blocks, so async callers run it in a thread. One writer may
    be shared by threads.
    """

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect.name
        if dialect not in SUPPORTED_ENGINES:
            raise DestinationRefusedError(
                f"no destination driver for engine {dialect!r}; destination tables can be "
                f"written to {', '.join(SUPPORTED_ENGINES)}"
            )
        self._engine = engine
        self._dialect = dialect

    def write_result_set(
        self,
        *,
        schema: str | None,
        table: str,
        columns: Sequence[tuple[str, CanonicalType]],
        rows: Sequence[Sequence[Any]],
        job_execution_id: str,
        target_engine: str,
        target_server_name: str,
        target_database_name: str,
        collected_at: dt.datetime,
    ) -> int:
        """Creates the table when missing (from the result set's columns plus the metadata
        columns), checks that an existing one fits, then replaces this database's rows for
        this execution: one transaction deletes the rows of (job_execution_id, target_engine,
        target_server_name, target_database_name) and inserts `rows`. Returns the number of
        rows written. A table is never altered or dropped.

        Raises DestinationRefusedError (invalid table or schema name, missing schema),
        ResultSetMismatchError (the result set does not fit), ValueError (a row of the wrong
        length), and SQLAlchemy's errors for everything the database refuses.
        """
        schema = schema or None
        for kind, name in (("table", table), ("schema", schema)):
            problem = None if name is None else validate_identifier(kind, name)
            if problem is not None:
                raise DestinationRefusedError(problem)
        kinds = [(name, CanonicalType(kind)) for name, kind in columns]
        check_result_columns(kinds, table=qualified(schema, table), dialect=self._dialect)
        for number, row in enumerate(rows, start=1):
            if len(row) != len(kinds):
                raise ValueError(
                    f"row {number} has {len(row)} values but the result set has "
                    f"{len(kinds)} columns"
                )
        metadata = (
            job_execution_id,
            target_engine,
            target_server_name,
            target_database_name,
            collected_at,
        )

        for attempt in range(1, _ATTEMPTS + 1):
            last = attempt == _ATTEMPTS
            try:
                return self._write_once(schema, table, kinds, rows, metadata)
            except _CreateFailedError as failure:
                # Two writers saw no table and both ran CREATE TABLE; the loser fails (on
                # PostgreSQL with a unique violation in the catalog, elsewhere with "already
                # exists"). The table now exists, so the next try reflects it and goes on.
                if last or not self._table_exists(schema, table):
                    raise failure.original from None
                log.debug("destination table %s was created concurrently", table)
            except DBAPIError as error:
                if last or not _is_transient(error):
                    raise
                log.debug("retrying the write to %s after %s", table, error.orig)
                # Jitter, so writers that collided once do not collide again in lockstep.
                time.sleep(random.uniform(0, 0.05 * attempt))
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _table_exists(self, schema: str | None, table: str) -> bool:
        with self._engine.connect() as conn:
            return inspect(conn).has_table(table, schema=schema)

    def _write_once(
        self,
        schema: str | None,
        table: str,
        columns: list[tuple[str, CanonicalType]],
        rows: Sequence[Sequence[Any]],
        metadata: tuple[str, str, str, str, dt.datetime],
    ) -> int:
        if self._dialect == "sqlite":
            _make_sqlite_directory(self._engine)
        with self._engine.connect() as conn:
            if self._dialect == "mysql":
                # REPEATABLE READ would take gap locks on the index for the DELETE, and
                # concurrent writers of other databases would deadlock on each other's gaps.
                conn.execution_options(isolation_level="READ COMMITTED")
            lock: str | None = None
            try:
                with conn.begin():
                    if self._dialect == "mysql":
                        # DATETIME columns hold naive UTC; a TIMESTAMP column of an existing
                        # table would be shifted by the session's zone unless it is UTC too.
                        conn.exec_driver_sql("SET time_zone = '+00:00'")
                    lock = self._serialize(conn, schema, table, metadata)
                    bound = self._table_for(conn, schema, table, columns)
                    written = self._replace(conn, bound, rows, metadata)
                return written
            finally:
                if lock is not None:
                    _release_mysql_lock(conn, lock)

    def _serialize(
        self,
        conn: Connection,
        schema: str | None,
        table: str,
        metadata: tuple[str, str, str, str, dt.datetime],
    ) -> str | None:
        """Makes concurrent writers of the same database's rows (a redelivered result while
        the first delivery is still being written) wait for each other: otherwise each DELETE
        misses the rows the other is inserting and both sets of rows stay. Returns the name
        of a MySQL lock to release after the transaction."""
        # GET_LOCK names are server-wide, so the database is part of the key.
        database = self._engine.url.database or ""
        key = "\x1f".join((database, schema or "", table, *metadata[:4]))
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        if self._dialect == "sqlite":
            # Python's sqlite3 starts no transaction before DDL, so without this CREATE TABLE
            # would commit on its own; IMMEDIATE also takes the write lock up front, so two
            # writers queue on the busy timeout instead of deadlocking on a lock upgrade.
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and not getattr(dbapi, "in_transaction", False):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            return None
        if self._dialect == "postgresql":
            # Released by the commit or rollback.
            conn.execute(
                select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], signed=True)))
            )
            return None
        # MySQL has no transaction-scoped advisory lock; GET_LOCK holds until released (or
        # the session ends), so the caller releases it after the transaction.
        name = f"fleetjobs_results_{digest.hex()}"
        got = conn.execute(select(func.get_lock(name, _LOCK_TIMEOUT_SECONDS))).scalar()
        if got != 1:
            raise TimeoutError(
                f"waited {_LOCK_TIMEOUT_SECONDS} s for another writer of the same database's "
                f"rows in {table}"
            )
        return name

    def _table_for(
        self,
        conn: Connection,
        schema: str | None,
        table: str,
        columns: list[tuple[str, CanonicalType]],
    ) -> BoundTable:
        inspector = inspect(conn)
        if schema is not None and not inspector.has_schema(schema):
            raise DestinationRefusedError(
                f"schema {schema!r} does not exist in the destination database; fleetjobs "
                "creates tables, never schemas"
            )
        if inspector.has_table(table, schema=schema):
            reflected = self._reflect_columns(conn, schema, table)
            return fit(schema, table, columns, reflected, conn.dialect)
        created = definition(schema, table, columns, conn.dialect)
        try:
            created.table.create(conn)
        except DBAPIError as error:
            raise _CreateFailedError(error) from error
        return created

    def _reflect_columns(
        self, conn: Connection, schema: str | None, table: str
    ) -> list[ReflectedColumn]:
        columns = inspect(conn).get_columns(table, schema=schema)
        if self._dialect != "mysql":
            return columns
        # SQLAlchemy reads MySQL columns from SHOW CREATE TABLE and leaves a backtick in a
        # name doubled (`a``b` comes back as 'a``b'); information_schema has the real names.
        names = conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = COALESCE(:schema, DATABASE()) AND table_name = :table"
                " ORDER BY ordinal_position"
            ),
            {"schema": schema, "table": table},
        ).scalars()
        real = [str(name) for name in names]
        if len(real) == len(columns):
            for column, name in zip(columns, real, strict=True):
                column["name"] = name
        return columns

    def _replace(
        self,
        conn: Connection,
        bound: BoundTable,
        rows: Sequence[Sequence[Any]],
        metadata: tuple[str, str, str, str, dt.datetime],
    ) -> int:
        result_count = len(bound.columns) - len(metadata)
        keys = [column.key for column in bound.columns]
        coercers = bound.coercers
        meta_values = [
            coerce(value) for coerce, value in zip(coercers[result_count:], metadata, strict=True)
        ]

        def shape(number: int, position: int, value: Any) -> Any:
            if value is None:
                return None
            try:
                return coercers[position](value)
            except (ValueError, TypeError, ArithmeticError) as error:
                raise ResultSetMismatchError(
                    f"destination table {bound.table.fullname}: row {number}, column "
                    f"{keys[position]!r}: {error}"
                ) from error

        parameters = [
            dict(
                zip(
                    keys,
                    [shape(number, i, value) for i, value in enumerate(row)] + meta_values,
                    strict=True,
                )
            )
            for number, row in enumerate(rows, start=1)
        ]
        identity = zip(bound.columns[result_count:][:4], meta_values[:4], strict=True)
        conn.execute(delete(bound.table).where(*(column == value for column, value in identity)))
        if parameters:
            conn.execute(insert(bound.table), parameters)
        return len(parameters)


def _make_sqlite_directory(engine: Engine) -> None:
    # SQLite creates a missing database file but not its directory; the path was confined to
    # the SQLite root when the URL was built, so creating directories below it is safe.
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _release_mysql_lock(conn: Connection, name: str) -> None:
    try:
        conn.execute(select(func.release_lock(name)))
        conn.rollback()
    except Exception:
        # The session is unusable; closing it for good is what frees a GET_LOCK lock then.
        log.debug("could not release lock %s; discarding the connection", name, exc_info=True)
        conn.invalidate()


def _is_transient(error: DBAPIError) -> bool:
    """Deadlocks, serialization failures and busy SQLite files go away on a retry."""
    original = error.orig
    if getattr(original, "sqlstate", None) in {"40P01", "40001"}:  # psycopg
        return True
    args = getattr(original, "args", ())
    # MySQL deadlock, lock wait timeout; MariaDB's DESCRIBE of a table another session is
    # still creating.
    if args and args[0] in {1213, 1205, 1684}:
        return True
    return "database is locked" in str(original)  # SQLite busy after its timeout
