"""Writes databases' result sets into a destination table, each replacing what the same
database wrote earlier for the same execution."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination._errors import DestinationRefusedError, ResultSetMismatchError
from fleetjobs.results.destination._names import (
    check_result_columns,
    validate_identifier,
)
from fleetjobs.results.destination._reflect import reflect_columns
from fleetjobs.results.destination._table import BoundTable, definition, fit, qualified
from fleetjobs.results.destination._types import SUPPORTED_ENGINES
from fleetjobs.results.destination._untyped import (
    ColumnKind,
    give_types,
    group_keys,
    result_kinds,
    to_type,
)

log = logging.getLogger(__name__)

# Tries of one write: a lost race to create the table, a deadlock or a busy SQLite file each
# cost one more.
_ATTEMPTS = 5
# How long a MySQL writer waits for another writer of the same database's rows.
_LOCK_TIMEOUT_SECONDS = 120
# How long a checked table is trusted without looking at it again. A write that fails on a
# trusted table checks it again at once, so this only bounds how long a change that makes no
# write fail (a column retyped to a compatible type) goes unnoticed.
TABLE_CACHE_SECONDS = 60.0

# A result set's columns as the table check sees them: names (exact) and canonical types, None
# for a column without a value (`_untyped`).
Signature = tuple[tuple[str, ColumnKind], ...]
# (job_execution_id, target_engine, target_server_name, target_database_name): whose rows.
Identity = tuple[str, str, str, str]


@dataclass(frozen=True)
class ResultSetItem:
    """One database's first result set, for `DestinationWriter.write_result_sets`."""

    columns: Sequence[tuple[str, CanonicalType]]
    rows: Sequence[Sequence[Any]]
    job_execution_id: str
    target_engine: str
    target_server_name: str
    target_database_name: str
    collected_at: dt.datetime

    @property
    def identity(self) -> Identity:
        return (
            self.job_execution_id,
            self.target_engine,
            self.target_server_name,
            self.target_database_name,
        )

    @property
    def signature(self) -> Signature:
        return result_kinds(self.columns, self.rows)


@dataclass(frozen=True)
class WriteResult:
    """What became of one item: its rows committed (`error` None), or why not. The errors are
    those `write_result_set` raises."""

    rows_written: int = 0
    error: Exception | None = None


class GateHold(Protocol):
    """A `CommitGate`'s answer for one destination transaction."""

    @property
    def refused(self) -> Mapping[int, Exception]:
        """Items whose rows must not be committed, by position in `items`, each with the
        error it ends with. The transaction is rolled back and the other items are written
        again without them (and asked about again)."""
        ...

    def committed(self) -> None:
        """The destination transaction committed. An error raised here becomes the error of
        the transaction's items, although their rows stay committed."""
        ...

    def abandoned(self) -> None:
        """The destination transaction was rolled back, or its commit failed."""
        ...


class CommitGate(Protocol):
    """Asked inside every destination transaction of `write_result_sets`, once its rows are
    written and before it commits, whether they may be committed: so that a condition
    checked elsewhere (the results service's fence) can be held until the commit is done.
    Called in the writer's thread."""

    def hold(self, written: Mapping[int, int]) -> GateHold:
        """`written`: the rows each item is about to commit, by position in `items`. May
        block; an error raised here rolls the transaction back and becomes the error of its
        items."""
        ...


class _FencedOutError(Exception):
    """The gate refused some items of a transaction: their results; the others are written
    again without them."""

    def __init__(self, results: dict[int, WriteResult]) -> None:
        super().__init__(f"{len(results)} items refused by the commit gate")
        self.results = results


class _CreateFailedError(Exception):
    """CREATE TABLE failed; the caller looks whether another writer created it meanwhile."""

    def __init__(self, original: DBAPIError) -> None:
        super().__init__(str(original))
        self.original = original


class _RowsRefusedError(Exception):
    """The database refused the DELETE or INSERT of a group's rows: one item's value, or a
    table changed since it was checked."""

    def __init__(self, original: DBAPIError) -> None:
        super().__init__(str(original))
        self.original = original


class _TableCache:
    """Tables already created or checked, per (schema, table) and result-set signature, so
    that later writes skip reflection. Shared by the writer's threads."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._tables: dict[tuple[str | None, str], dict[Signature, tuple[float, BoundTable]]] = {}

    def get(self, schema: str | None, table: str, signature: Signature) -> BoundTable | None:
        with self._lock:
            entry = self._tables.get((schema, table), {}).get(signature)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, schema: str | None, table: str, signature: Signature, bound: BoundTable) -> None:
        expires = time.monotonic() + self._seconds
        with self._lock:
            self._tables.setdefault((schema, table), {})[signature] = (expires, bound)

    def drop(self, schema: str | None, table: str) -> None:
        """Forgets every check of the table: if it changed for one signature, the others are
        suspect too."""
        with self._lock:
            self._tables.pop((schema, table), None)


class DestinationWriter:
    """Writes result sets into tables of one destination database.

    The engine is a synchronous SQLAlchemy engine for postgresql (psycopg), mysql (pymysql)
    or sqlite; the writes block, so async callers run them in a thread. One writer may be
    shared by threads, and should be kept for the engine's life: it remembers the tables it
    has created or checked (for `table_cache_seconds`), so that later writes of result sets
    with the same columns do not inspect the table again.
    """

    def __init__(self, engine: Engine, *, table_cache_seconds: float = TABLE_CACHE_SECONDS) -> None:
        dialect = engine.dialect.name
        if dialect not in SUPPORTED_ENGINES:
            raise DestinationRefusedError(
                f"no destination driver for engine {dialect!r}; destination tables can be "
                f"written to {', '.join(SUPPORTED_ENGINES)}"
            )
        self._engine = engine
        self._dialect = dialect
        self._tables = _TableCache(table_cache_seconds)

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
        rows written. A table is never dropped, nor are columns added to it; a column created
        without a value to type it by gets the type of the first value (`_untyped`).

        Raises DestinationRefusedError (invalid table or schema name, missing schema),
        ResultSetMismatchError (the result set does not fit), ValueError (a row of the wrong
        length), and SQLAlchemy's errors for everything the database refuses.
        """
        item = ResultSetItem(
            columns=columns,
            rows=rows,
            job_execution_id=job_execution_id,
            target_engine=target_engine,
            target_server_name=target_server_name,
            target_database_name=target_database_name,
            collected_at=collected_at,
        )
        [result] = self.write_result_sets(schema=schema, table=table, items=[item])
        if result.error is not None:
            raise result.error
        return result.rows_written

    def write_result_sets(
        self,
        *,
        schema: str | None,
        table: str,
        items: Sequence[ResultSetItem],
        gate: CommitGate | None = None,
    ) -> list[WriteResult]:
        """Writes several databases' result sets into one table, as `write_result_set` would
        one after the other, but cheaper: the items with the same columns go in one
        transaction (each item's rows deleted, then one INSERT of all their rows), holding
        the lock of every item's (execution, database).

        An item that fails alone (its result set does not fit, a value the database refuses)
        does not fail the others: the result list, in the order of `items`, holds each
        item's rows written or its error. Items naming the same (execution, database) are
        written in their order, so the last one's rows stay.
        """
        schema = schema or None
        for kind, name in (("table", table), ("schema", schema)):
            problem = None if name is None else validate_identifier(kind, name)
            if problem is not None:
                return [WriteResult(error=DestinationRefusedError(problem)) for _ in items]

        results: dict[int, WriteResult] = {}
        signatures = [item.signature for item in items]
        checked: dict[Signature, ResultSetMismatchError | None] = {}
        valid: list[int] = []
        for index, (item, signature) in enumerate(zip(items, signatures, strict=True)):
            if signature not in checked:
                try:
                    check_result_columns(
                        signature, table=qualified(schema, table), dialect=self._dialect
                    )
                    checked[signature] = None
                except ResultSetMismatchError as error:
                    checked[signature] = error
            refusal = checked[signature]
            if refusal is not None:
                results[index] = WriteResult(error=refusal)
                continue
            problem = _row_length_problem(item.rows, len(signature))
            if problem is not None:
                results[index] = WriteResult(error=ValueError(problem))
                continue
            valid.append(index)

        keys = group_keys(signatures)
        for round_ in _rounds(valid, items):
            groups: dict[Signature, list[tuple[int, ResultSetItem]]] = {}
            for index in round_:
                groups.setdefault(keys[index], []).append((index, items[index]))
            for key, entries in groups.items():
                written = self._write_group(schema, table, key, entries, gate=gate)
                # An item with columns without a value joined this group (`group_keys`); if
                # the table refused the group's types, those columns may still fit alone.
                for index, item in entries:
                    refused = written[index].error
                    if keys[index] != signatures[index] and isinstance(
                        refused, ResultSetMismatchError
                    ):
                        alone = [(index, item)]
                        written.update(
                            self._write_group(schema, table, signatures[index], alone, gate=gate)
                        )
                results.update(written)
        return [results[index] for index in range(len(items))]

    def _write_group(
        self,
        schema: str | None,
        table: str,
        signature: Signature,
        entries: list[tuple[int, ResultSetItem]],
        *,
        gate: CommitGate | None,
        recheck: bool = True,
    ) -> dict[int, WriteResult]:
        """Writes items of one signature, naming distinct (execution, database)s, in one
        transaction; falls back to one transaction per item when the database refuses the
        rows of the group. `recheck`: whether a refusal on a trusted table checks the table
        again (not when it was just checked)."""
        settled: dict[int, WriteResult] = {}
        while entries:
            try:
                settled.update(
                    self._write_group_tries(
                        schema, table, signature, entries, gate=gate, recheck=recheck
                    )
                )
                break
            except _FencedOutError as fenced:
                # The refused items are settled; the rows of the others went with the
                # rollback, so they are written again on their own.
                settled.update(fenced.results)
                entries = [entry for entry in entries if entry[0] not in fenced.results]
        return settled

    def _write_group_tries(
        self,
        schema: str | None,
        table: str,
        signature: Signature,
        entries: list[tuple[int, ResultSetItem]],
        *,
        gate: CommitGate | None,
        recheck: bool,
    ) -> dict[int, WriteResult]:
        tries = 0
        checked = False  # the table was checked here, the cache left aside
        while True:
            tries += 1
            last = tries >= _ATTEMPTS
            cached = None if checked else self._tables.get(schema, table, signature)
            try:
                return self._write_group_once(schema, table, signature, entries, cached, gate=gate)
            except _FencedOutError:
                raise
            except _CreateFailedError as failure:
                # Two writers saw no table and both ran CREATE TABLE; the loser fails (on
                # PostgreSQL with a unique violation in the catalog, elsewhere with "already
                # exists"). The table now exists, so the next try reflects it and goes on.
                if last or not self._table_exists(schema, table):
                    return _failed(entries, failure.original)
                log.debug("destination table %s was created concurrently", table)
            except _RowsRefusedError as refused:
                error = refused.original
                if _is_transient(error):
                    if last:
                        return _failed(entries, error)
                    _back_off(table, error, tries)
                    continue
                if error.connection_invalidated:
                    return _failed(entries, error)
                if cached is not None and recheck:
                    # The table was trusted from an earlier check; it may have been altered
                    # or dropped since. Check it again (once): a clear mismatch, or a table
                    # created anew, instead of the database's bare refusal.
                    log.debug("write to %s refused (%s); checking the table again", table, error)
                    self._tables.drop(schema, table)
                    checked = True
                    continue
                if len(entries) > 1:
                    # The table was just checked, so one item's value, most likely: write
                    # them one by one, so that only the item the database refuses fails.
                    log.debug("group write to %s refused; writing one by one", table)
                    results: dict[int, WriteResult] = {}
                    for entry in entries:
                        results.update(
                            self._write_group(
                                schema, table, signature, [entry], gate=gate, recheck=False
                            )
                        )
                    return results
                return _failed(entries, error)
            except DBAPIError as error:
                if last or not _is_transient(error):
                    return _failed(entries, error)
                _back_off(table, error, tries)
            except Exception as error:
                # DestinationRefusedError, ResultSetMismatchError of the table, a lock timeout:
                # the same for every item of the group.
                return _failed(entries, error)

    def _table_exists(self, schema: str | None, table: str) -> bool:
        with self._engine.connect() as conn:
            return inspect(conn).has_table(table, schema=schema)

    def _write_group_once(
        self,
        schema: str | None,
        table: str,
        signature: Signature,
        entries: list[tuple[int, ResultSetItem]],
        cached: BoundTable | None,
        *,
        gate: CommitGate | None,
    ) -> dict[int, WriteResult]:
        if self._dialect == "sqlite":
            _make_sqlite_directory(self._engine)
        with self._engine.connect() as conn:
            if self._dialect == "mysql":
                # REPEATABLE READ would take gap locks on the index for the DELETE, and
                # concurrent writers of other databases would deadlock on each other's gaps.
                conn.execution_options(isolation_level="READ COMMITTED")
            locks: list[str] = []
            hold: GateHold | None = None
            try:
                try:
                    with conn.begin() as transaction:
                        if self._dialect == "mysql":
                            # DATETIME columns hold naive UTC; a TIMESTAMP column of an
                            # existing table would be shifted by the session's zone unless it
                            # is UTC too.
                            conn.exec_driver_sql("SET time_zone = '+00:00'")
                        self._serialize(conn, schema, table, [item for _, item in entries], locks)
                        bound = cached or self._table_for(
                            conn, schema, table, list(signature), locks
                        )
                        results, writes = _shape(bound, entries)
                        if not writes:
                            # Every item failed alone; a table created for them goes too
                            # (where DDL is transactional).
                            transaction.rollback()
                            return results
                        try:
                            _replace(conn, bound, writes)
                        except DBAPIError as error:
                            raise _RowsRefusedError(error) from error
                        if gate is not None:
                            hold = gate.hold(
                                {
                                    index: result.rows_written
                                    for index, result in results.items()
                                    if result.error is None
                                }
                            )
                            if hold.refused:
                                raise _FencedOutError(
                                    {
                                        index: WriteResult(error=error)
                                        for index, error in hold.refused.items()
                                    }
                                )
                except BaseException:
                    if hold is not None:
                        hold.abandoned()
                    raise
                if cached is None:
                    self._tables.put(schema, table, signature, bound)
                if hold is not None:
                    try:
                        hold.committed()
                    except Exception as error:
                        for index, result in results.items():
                            if result.error is None:
                                results[index] = WriteResult(error=error)
                return results
            finally:
                if locks:
                    _release_mysql_locks(conn, locks)

    def _serialize(
        self,
        conn: Connection,
        schema: str | None,
        table: str,
        items: Sequence[ResultSetItem],
        mysql_locks: list[str],
    ) -> None:
        """Makes concurrent writers of the same database's rows (a redelivered result while
        the first delivery is still being written) wait for each other: otherwise each DELETE
        misses the rows the other is inserting and both sets of rows stay. A group takes the
        lock of each of its databases, in sorted order, so two groups never wait for each
        other crosswise. Appends the MySQL locks taken to `mysql_locks` (released by the
        caller after the transaction)."""
        if self._dialect == "sqlite":
            # Python's sqlite3 starts no transaction before DDL, so without this CREATE TABLE
            # would commit on its own; IMMEDIATE also takes the write lock up front, so two
            # writers queue on the busy timeout instead of deadlocking on a lock upgrade.
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and not getattr(dbapi, "in_transaction", False):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        # GET_LOCK names are server-wide, so the database is part of the key.
        database = self._engine.url.database or ""
        digests = sorted(
            {
                hashlib.blake2b(
                    "\x1f".join((database, schema or "", table, *item.identity)).encode(),
                    digest_size=16,
                ).digest()
                for item in items
            }
        )
        if self._dialect == "postgresql":
            # Transaction-scoped: released by the commit or rollback. unnest yields the keys
            # in the array's order.
            keys = sorted(int.from_bytes(digest[:8], signed=True) for digest in digests)
            conn.execute(_PG_LOCKS, {"keys": keys})
            return
        # MySQL has no transaction-scoped advisory lock; GET_LOCK holds until released (or
        # the session ends).
        for digest in digests:
            name = f"fleetjobs_results_{digest.hex()}"
            got = conn.execute(select(func.get_lock(name, _LOCK_TIMEOUT_SECONDS))).scalar()
            if got != 1:
                raise TimeoutError(
                    f"waited {_LOCK_TIMEOUT_SECONDS} s for another writer of the same "
                    f"database's rows in {table}"
                )
            mysql_locks.append(name)

    def _table_for(
        self,
        conn: Connection,
        schema: str | None,
        table: str,
        columns: list[tuple[str, ColumnKind]],
        mysql_locks: list[str],
    ) -> BoundTable:
        inspector = inspect(conn)
        if schema is not None and not inspector.has_schema(schema):
            raise DestinationRefusedError(
                f"schema {schema!r} does not exist in the destination database; fleetjobs "
                "creates tables, never schemas"
            )
        if inspector.has_table(table, schema=schema):
            reflected = reflect_columns(conn, schema, table)
            wanted = to_type(columns, reflected)
            if wanted:
                give_types(conn, schema, table, wanted, mysql_locks=mysql_locks)
                # Bound tables checked before carry the columns' old types.
                self._tables.drop(schema, table)
                reflected = reflect_columns(conn, schema, table)
            return fit(schema, table, columns, reflected, conn.dialect)
        created, bound = definition(schema, table, columns, conn.dialect)
        try:
            created.create(conn)
        except DBAPIError as error:
            raise _CreateFailedError(error) from error
        return bound


_PG_LOCKS = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(:keys) AS t(k)").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger()))
)

# Bind names of the identity in the DELETE; they cannot clash with anything else in it.
_IDENTITY_BINDS = ("fj_execution", "fj_engine", "fj_server", "fj_database")


@dataclass(frozen=True)
class _Write:
    """One item's rows, shaped for the bound table."""

    identity: dict[str, Any]
    parameters: list[dict[str, Any]]


def _shape(
    bound: BoundTable, entries: list[tuple[int, ResultSetItem]]
) -> tuple[dict[int, WriteResult], list[_Write]]:
    """Each item's rows as INSERT parameters, or the item's error when a value does not fit
    its column (the item fails alone)."""
    results: dict[int, WriteResult] = {}
    writes: list[_Write] = []
    for index, item in entries:
        try:
            write = _shape_item(bound, item)
        except ResultSetMismatchError as error:
            results[index] = WriteResult(error=error)
            continue
        results[index] = WriteResult(rows_written=len(write.parameters))
        writes.append(write)
    return results, writes


def _shape_item(bound: BoundTable, item: ResultSetItem) -> _Write:
    metadata = (*item.identity, item.collected_at)
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
        for number, row in enumerate(item.rows, start=1)
    ]
    return _Write(
        identity=dict(zip(_IDENTITY_BINDS, meta_values[:4], strict=True)), parameters=parameters
    )


def _replace(conn: Connection, bound: BoundTable, writes: list[_Write]) -> None:
    """Deletes each item's earlier rows, then inserts all the new ones in one statement."""
    identity_columns = bound.columns[-5:-1]
    conn.execute(
        delete(bound.table).where(
            *(
                column == bindparam(name)
                for column, name in zip(identity_columns, _IDENTITY_BINDS, strict=True)
            )
        ),
        [write.identity for write in writes],
    )
    parameters = [row for write in writes for row in write.parameters]
    if parameters:
        conn.execute(insert(bound.table), parameters)


def _rounds(indexes: list[int], items: Sequence[ResultSetItem]) -> list[list[int]]:
    """Splits items so that no round names the same (execution, database) twice; rounds are
    written in order, so of two items for the same rows the later one's stay."""
    rounds: list[tuple[list[int], set[Identity]]] = []
    for index in indexes:
        identity = items[index].identity
        # After the last round holding this identity, so the items keep their order.
        start = 0
        for number, (_, identities) in enumerate(rounds):
            if identity in identities:
                start = number + 1
        if start == len(rounds):
            rounds.append(([], set()))
        members, identities = rounds[start]
        members.append(index)
        identities.add(identity)
    return [members for members, _ in rounds]


def _row_length_problem(rows: Sequence[Sequence[Any]], width: int) -> str | None:
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            return f"row {number} has {len(row)} values but the result set has {width} columns"
    return None


def _failed(entries: list[tuple[int, ResultSetItem]], error: Exception) -> dict[int, WriteResult]:
    return {index: WriteResult(error=error) for index, _ in entries}


def _back_off(table: str, error: DBAPIError, tries: int) -> None:
    log.debug("retrying the write to %s after %s", table, error.orig)
    # Jitter, so writers that collided once do not collide again in lockstep.
    time.sleep(random.uniform(0, 0.05 * tries))


def _make_sqlite_directory(engine: Engine) -> None:
    # SQLite creates a missing database file but not its directory; the path was confined to
    # the SQLite root when the URL was built, so creating directories below it is safe.
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _release_mysql_locks(conn: Connection, names: list[str]) -> None:
    try:
        conn.execute(select(*(func.release_lock(name) for name in names)))
        conn.rollback()
    except Exception:
        # The session is unusable; closing it for good is what frees a GET_LOCK lock then.
        log.debug("could not release locks %s; discarding the connection", names, exc_info=True)
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
