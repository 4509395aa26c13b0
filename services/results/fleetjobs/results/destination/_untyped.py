"""Columns created before any value typed them, and how the first value gives them its type.

A connector types a column it has no value for as TEXT: SQLite's result sets carry no types
(the connector infers them from the values), and PostgreSQL and MySQL type a bare NULL as
text. A zero-row or all-NULL first result set would thus fix a destination column as TEXT,
and every later integer would be refused. So a TEXT result column without a single value
has no type here (`None`); an all-NULL result column fits a column of any type, and a column
fleetjobs creates for it is *untyped* until a value arrives:

- SQLite: declared without a type. SQLite keeps every value in its own storage class there
  (an integer stays an integer, text is never converted), so the column takes the first
  value's type, and every later one's, without being altered: SQLite cannot change a
  column's type in place.
- PostgreSQL, MySQL / MariaDB: TEXT, with the comment `UNTYPED_COMMENT`. The first write of
  a value into it takes a table lock among writers, checks that the column still has the
  comment and holds no value, and ALTERs it to the value's type without the comment
  (`give_types`). On PostgreSQL the ALTER is part of the write's transaction, so a write
  that is rolled back leaves the column untyped. MySQL commits DDL on its own (CREATE TABLE
  too), so there a write that fails after the ALTER leaves the column typed and empty.

A real TEXT column with no value yet is indistinguishable from an untyped one, so it too
takes the type of the first value any database sends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import Connection, column, func, select, table
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.types import TypeEngine, UserDefinedType

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination._reflect import matching_columns, reflect_columns
from fleetjobs.results.destination._types import destination_type

# A result column's type: canonical, or None when the result set has no value to type it by.
ColumnKind: TypeAlias = CanonicalType | None

# Marks a column fleetjobs created without a value to type it by (PostgreSQL, MySQL).
UNTYPED_COMMENT = "fleetjobs: untyped until the first value; that value's type replaces TEXT"

# How long a MySQL writer waits for another writer giving the same table's columns types.
_LOCK_TIMEOUT_SECONDS = 120


def result_kinds(
    columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> tuple[tuple[str, ColumnKind], ...]:
    """The result set's columns with their kinds: a TEXT column without a value has none."""
    kinds: list[tuple[str, ColumnKind]] = []
    for position, (name, given) in enumerate(columns):
        kind = CanonicalType(given)
        if kind is CanonicalType.TEXT and all(
            len(row) <= position or row[position] is None for row in rows
        ):
            kinds.append((name, None))
        else:
            kinds.append((name, kind))
    return tuple(kinds)


def group_keys(
    signatures: Sequence[tuple[tuple[str, ColumnKind], ...]],
) -> list[tuple[tuple[str, ColumnKind], ...]]:
    """The signature each item is written under: its own, or, when some of its columns have no
    value, that of another item with the same column names whose types agree with its typed
    columns, so that zero-row and all-NULL results share their fleet's transaction."""
    typed = [s for s in dict.fromkeys(signatures) if all(kind is not None for _, kind in s)]
    keys = []
    for signature in signatures:
        key = signature
        if any(kind is None for _, kind in signature):
            key = next((t for t in typed if _agrees(signature, t)), signature)
        keys.append(key)
    return keys


def _agrees(
    partial: tuple[tuple[str, ColumnKind], ...], typed: tuple[tuple[str, ColumnKind], ...]
) -> bool:
    return len(partial) == len(typed) and all(
        name == other and kind in (None, other_kind)
        for (name, kind), (other, other_kind) in zip(partial, typed, strict=True)
    )


class _NoType(UserDefinedType[Any]):
    """SQLite's column without a declared type (BLOB affinity: values kept as they come)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return ""


def untyped_type(dialect: str) -> TypeEngine[Any]:
    """The type of a column created for a result column without a value."""
    if dialect == "sqlite":
        return _NoType()
    return destination_type(CanonicalType.TEXT, dialect)


def untyped_comment(dialect: str) -> str | None:
    """The comment that marks an untyped column; SQLite has no comments, nor needs one."""
    return None if dialect == "sqlite" else UNTYPED_COMMENT


def to_type(
    result_columns: Sequence[tuple[str, ColumnKind]], reflected: Sequence[ReflectedColumn]
) -> list[tuple[str, CanonicalType]]:
    """(column name in the table, type) of the untyped columns the result set has values
    for, which `give_types` turns into typed ones before the write."""
    wanted: list[tuple[str, CanonicalType]] = []
    for name, kind in result_columns:
        if kind is None:
            continue
        candidates = matching_columns(reflected, name)
        # Several candidates: the table check refuses the result set anyway.
        if len(candidates) == 1 and candidates[0].get("comment") == UNTYPED_COMMENT:
            wanted.append((candidates[0]["name"], kind))
    return wanted


def give_types(
    conn: Connection,
    schema: str | None,
    table_name: str,
    wanted: Sequence[tuple[str, CanonicalType]],
    *,
    mysql_locks: list[str],
) -> None:
    """ALTERs each of `wanted`'s columns that is still untyped and holds no value to its type,
    removing the comment, under a lock that makes concurrent writers of the table take turns.
    Appends a MySQL lock taken to `mysql_locks` (released by the caller after its
    transaction)."""
    preparer = conn.dialect.identifier_preparer
    where = preparer.quote(table_name)
    if schema:
        where = f"{preparer.quote_schema(schema)}.{where}"
    if conn.dialect.name == "postgresql":
        # The ALTER's own lock, taken before looking: writers queue here, and each sees the
        # columns as the one before left them.
        conn.exec_driver_sql(f"LOCK TABLE {where} IN ACCESS EXCLUSIVE MODE")
    else:
        _mysql_table_lock(conn, schema, table_name, mysql_locks)
    reflected = reflect_columns(conn, schema, table_name)
    for name, kind in wanted:
        current = [c for c in reflected if c["name"] == name]
        if not current or current[0].get("comment") != UNTYPED_COMMENT:
            continue  # typed meanwhile; the table check decides whether it fits
        values = table(table_name, column(name), schema=schema)
        if conn.execute(select(values.c[name]).where(values.c[name].is_not(None)).limit(1)).first():
            continue  # written into by hand: the column is what it says, TEXT
        type_ = destination_type(kind, conn.dialect.name).compile(dialect=conn.dialect)
        quoted = preparer.quote(name)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                f"ALTER TABLE {where} ALTER COLUMN {quoted} TYPE {type_} USING {quoted}::{type_}"
            )
            conn.exec_driver_sql(f"COMMENT ON COLUMN {where}.{quoted} IS NULL")
        else:
            # MODIFY redefines the column whole, leaving the comment out.
            conn.exec_driver_sql(f"ALTER TABLE {where} MODIFY COLUMN {quoted} {type_} NULL")


def _mysql_table_lock(
    conn: Connection, schema: str | None, table_name: str, mysql_locks: list[str]
) -> None:
    # The reads so far keep metadata locks on the table until the transaction ends, and the
    # ALTER would wait for another writer's while that writer waits here for this lock: end
    # the transaction first. Nothing is written yet; the ALTER would commit it anyway.
    conn.exec_driver_sql("COMMIT")
    database = conn.engine.url.database or ""
    digest = hashlib.blake2b(
        "\x1f".join((database, schema or "", table_name)).encode(), digest_size=16
    ).hexdigest()
    name = f"fleetjobs_types_{digest}"
    got = conn.execute(select(func.get_lock(name, _LOCK_TIMEOUT_SECONDS))).scalar()
    if got != 1:
        raise TimeoutError(
            f"waited {_LOCK_TIMEOUT_SECONDS} s for another writer typing the columns of "
            f"{table_name}"
        )
    mysql_locks.append(name)
