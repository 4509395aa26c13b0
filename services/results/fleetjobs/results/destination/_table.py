"""The destination table: the definition fleetjobs creates, and the check that an existing
table (reflected) fits a result set."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Index, MetaData, Table
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.types import TypeEngine

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination._errors import ResultSetMismatchError
from fleetjobs.results.destination._names import (
    COLLECTED_AT,
    JOB_EXECUTION_ID,
    TARGET_DATABASE_NAME,
    TARGET_ENGINE,
    TARGET_SERVER_NAME,
)
from fleetjobs.results.destination._reflect import matching_columns
from fleetjobs.results.destination._types import (
    accepts,
    coercer,
    destination_type,
    metadata_string_type,
    type_family,
)
from fleetjobs.results.destination._untyped import ColumnKind, untyped_comment, untyped_type

T = CanonicalType

# (name, canonical type, length of the string type) of the metadata columns. The lengths keep
# the index within InnoDB's 3072-byte key limit in utf8mb4 (4 bytes per character):
# (36 + 32 + 255 + 255) * 4 = 2312.
_METADATA: tuple[tuple[str, CanonicalType, int], ...] = (
    (JOB_EXECUTION_ID, T.TEXT, 36),
    (TARGET_ENGINE, T.TEXT, 32),
    (TARGET_SERVER_NAME, T.TEXT, 255),
    (TARGET_DATABASE_NAME, T.TEXT, 255),
    (COLLECTED_AT, T.TIMESTAMP, 0),
)
_INDEXED = (JOB_EXECUTION_ID, TARGET_ENGINE, TARGET_SERVER_NAME, TARGET_DATABASE_NAME)


@dataclass(frozen=True)
class BoundTable:
    """A table to write to: the SQLAlchemy Table (only the columns fleetjobs writes, under
    their names in the database) and, per column, the function shaping its values."""

    table: Table
    # Result columns in result-set order, then the metadata columns in _METADATA order. A
    # column the result set has no value for is bound without a type, so that no cast to the
    # type it had when checked is sent (it may have been given another since).
    columns: list[Column[Any]]
    coercers: list[Callable[[Any], Any]]


def qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def index_name(table: str) -> str:
    # Index names share the schema's namespace on PostgreSQL and SQLite, so the name is derived
    # from the table; the hash keeps it unique and within 63 characters for any table name.
    digest = hashlib.blake2b(table.encode(), digest_size=4).hexdigest()
    return f"ix_{table[:40]}_{digest}"


def _bind(
    schema: str | None,
    table: str,
    columns: Sequence[tuple[str, TypeEngine[Any]]],
    kinds: Sequence[ColumnKind],
    dialect: Dialect,
) -> BoundTable:
    bound = Table(
        table,
        MetaData(),
        *(
            Column(name, sqltypes.NullType() if kind is None else type_)
            for (name, type_), kind in zip(columns, kinds, strict=True)
        ),
        schema=schema,
    )
    coercers = [
        _identity
        if kind is None
        else coercer(kind, type_family(type_, dialect.name), type_, dialect.name)
        for (_, type_), kind in zip(columns, kinds, strict=True)
    ]
    return BoundTable(table=bound, columns=list(bound.columns), coercers=coercers)


def _identity(value: Any) -> Any:
    return value


def definition(
    schema: str | None,
    table: str,
    result_columns: Sequence[tuple[str, ColumnKind]],
    dialect: Dialect,
) -> tuple[Table, BoundTable]:
    """The table fleetjobs creates for a result set: its columns (nullable, names kept;
    untyped where the result set has no value), then the metadata columns (NOT NULL), and
    the index the per-database replace deletes by. Returns it with the table to write."""
    name = dialect.name
    columns: list[Column[Any]] = [
        Column(column, untyped_type(name), nullable=True, comment=untyped_comment(name))
        if kind is None
        else Column(column, destination_type(kind, name), nullable=True)
        for column, kind in result_columns
    ]
    for column, kind, length in _METADATA:
        type_ = metadata_string_type(length, name) if length else destination_type(kind, name)
        columns.append(Column(column, type_, nullable=False))
    created = Table(table, MetaData(), *columns, schema=schema)
    Index(index_name(table), *(created.c[column] for column in _INDEXED))
    kinds = [kind for _, kind in result_columns] + [kind for _, kind, _ in _METADATA]
    named = [(column.name, column.type) for column in created.columns]
    return created, _bind(schema, table, named, kinds, dialect)


def _describe(type_: TypeEngine[Any], dialect: Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        # Reflection yields NullType for types SQLAlchemy does not know; it cannot render them.
        return "an unrecognised type"


def fit(
    schema: str | None,
    table: str,
    result_columns: Sequence[tuple[str, ColumnKind]],
    reflected: Sequence[ReflectedColumn],
    dialect: Dialect,
) -> BoundTable:
    """Checks that an existing table can take the result set and returns the columns to write.

    Every result and metadata column must exist (exact name first, else the one name equal
    ignoring case) with a type accepting its canonical type (any type, for a result column
    without a value), and every other column must be fillable without a value (nullable,
    defaulted, generated). Raises ResultSetMismatchError naming the table, the column, and
    what was expected and found.
    """
    where = qualified(schema, table)
    wanted: list[tuple[str, ColumnKind, bool]]
    wanted = [(name, kind, False) for name, kind in result_columns]
    wanted += [(name, kind, True) for name, kind, _ in _METADATA]
    matched: list[ReflectedColumn] = []
    for name, kind, is_metadata in wanted:
        role = "metadata column" if is_metadata else "column"
        candidates = matching_columns(reflected, name)
        if len(candidates) > 1:
            names = ", ".join(repr(c["name"]) for c in candidates)
            raise ResultSetMismatchError(
                f"destination table {where} has several columns matching result {role} "
                f"{name!r} ignoring case ({names}) and none matching exactly"
            )
        if not candidates:
            expected = (
                "any type (the result set has no value in it)"
                if kind is None
                else f"type {_describe(destination_type(kind, dialect.name), dialect)} for "
                f"{kind} values"
            )
            raise ResultSetMismatchError(
                f"destination table {where} has no column {name!r}: expected a {role} of "
                f"{expected}; fleetjobs never adds columns to an existing table, so alter it, "
                "drop it or choose another table"
            )
        found = candidates[0]
        family = type_family(found["type"], dialect.name)
        if kind is not None and not accepts(family, kind):
            expected = _describe(destination_type(kind, dialect.name), dialect)
            raise ResultSetMismatchError(
                f"destination table {where}: column {found['name']!r} is "
                f"{_describe(found['type'], dialect)}, which cannot hold the result set's "
                f"{kind} values; expected {expected} or a compatible type"
            )
        matched.append(found)

    taken = {id(column) for column in matched}
    # SQLite's reflection marks primary key members in each column (not part of the typed dict).
    primary_key = [c for c in reflected if cast("dict[str, Any]", c).get("primary_key")]
    for column in reflected:
        if id(column) in taken or _fillable(column):
            continue
        sole_key = [id(c) for c in primary_key] == [id(column)]
        if dialect.name == "sqlite" and sole_key and _is_rowid(column):
            continue
        raise ResultSetMismatchError(
            f"destination table {where}: column {column['name']!r} is NOT NULL without a "
            "default and the result set has no such column"
        )

    named = [(column["name"], column["type"]) for column in matched]
    return _bind(schema, table, named, [kind for _, kind, _ in wanted], dialect)


def _is_rowid(column: ReflectedColumn) -> bool:
    # SQLite numbers an INTEGER PRIMARY KEY column itself (it is the rowid), NOT NULL or not.
    return isinstance(column["type"], sqltypes.INTEGER)


def _fillable(column: ReflectedColumn) -> bool:
    return bool(
        column.get("nullable", True)
        or column.get("default") is not None
        or column.get("autoincrement") is True
        or column.get("identity")
        or column.get("computed")
    )
