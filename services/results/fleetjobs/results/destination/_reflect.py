"""Reading an existing destination table's columns, and finding a result column among them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine.interfaces import ReflectedColumn


def reflect_columns(conn: Connection, schema: str | None, table: str) -> list[ReflectedColumn]:
    """The table's columns as SQLAlchemy reflects them (names, types, nullability, comments),
    with the real names on MySQL."""
    columns = inspect(conn).get_columns(table, schema=schema)
    if conn.dialect.name != "mysql":
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


def matching_columns(reflected: Sequence[ReflectedColumn], name: str) -> list[ReflectedColumn]:
    """The column named `name` exactly, else every column equal to it ignoring case (engines
    compare column names case-insensitively, and a result set may spell them otherwise)."""
    exact = [column for column in reflected if column["name"] == name]
    if exact:
        return exact[:1]
    folded = name.casefold()
    return [column for column in reflected if column["name"].casefold() == folded]
