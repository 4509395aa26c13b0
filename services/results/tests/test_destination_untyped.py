"""A column created from no value (a zero-row or all-NULL first result set, which connectors
type TEXT) takes the type of the first value any database sends, on every destination engine.

Tests taking `destination_engine` run once per engine, each on a new database (conftest.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination import DestinationWriter, ResultSetItem, ResultSetMismatchError
from fleetjobs.results.destination._types import type_family
from fleetjobs.results.destination._untyped import UNTYPED_COMMENT

T = CanonicalType
COLLECTED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
EXECUTION = "11111111-1111-1111-1111-111111111111"


def item(
    database: str, columns: list[tuple[str, CanonicalType]], rows: list[tuple[Any, ...]]
) -> ResultSetItem:
    return ResultSetItem(
        columns=columns,
        rows=rows,
        job_execution_id=EXECUTION,
        target_engine="sqlite",
        target_server_name="",
        target_database_name=database,
        collected_at=COLLECTED,
    )


def write(writer: DestinationWriter, one: ResultSetItem, table: str = "results") -> int:
    [result] = writer.write_result_sets(schema=None, table=table, items=[one])
    if result.error is not None:
        raise result.error
    return result.rows_written


def stored(engine: Engine, columns: str, table: str = "results") -> list[tuple[Any, ...]]:
    """(database, values…) of every row, each value as the database holds it."""
    with engine.connect() as conn:
        query = f"SELECT target_database_name, {columns} FROM {table} ORDER BY 1, 2"
        return [tuple(row) for row in conn.execute(text(query)).all()]


def family(engine: Engine, column: str, table: str = "results") -> str:
    [found] = [c for c in inspect(engine).get_columns(table) if c["name"] == column]
    return type_family(found["type"], engine.dialect.name)


def sqlite_storage(engine: Engine, column: str) -> list[str]:
    with engine.connect() as conn:
        query = f"SELECT DISTINCT typeof({column}) FROM results WHERE {column} IS NOT NULL"
        return [str(kind) for kind in conn.execute(text(query)).scalars()]


@pytest.mark.parametrize("first_rows", [[], [(None, "a"), (None, "b")]], ids=["empty", "nulls"])
def test_a_column_typed_from_no_value_takes_the_first_values_type(
    destination_engine: Engine, first_rows: list[tuple[Any, ...]]
) -> None:
    # SQLite's connector types a column without values TEXT, as PostgreSQL and MySQL type a
    # bare NULL; the column must not refuse the integers the next database sends.
    writer = DestinationWriter(destination_engine)
    write(writer, item("db1", [("n", T.TEXT), ("label", T.TEXT)], first_rows))
    write(writer, item("db2", [("n", T.INTEGER), ("label", T.TEXT)], [(7, "c"), (2**40, "d")]))
    # Another empty result fits the typed column; a fresh writer reflects the table anew.
    write(DestinationWriter(destination_engine), item("db3", [("n", T.TEXT)], [(None,)]))

    expected = [(None, "a"), (None, "b")] if first_rows else []
    with destination_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT target_database_name, n, label FROM results ORDER BY 1, 3")
        ).all()
    assert [tuple(row) for row in rows] == [
        *(("db1", n, label) for n, label in expected),
        ("db2", 7, "c"),
        ("db2", 2**40, "d"),
        ("db3", None, None),
    ]
    if destination_engine.dialect.name == "sqlite":
        # Declared without a type: SQLite keeps the integers as integers.
        assert sqlite_storage(destination_engine, "n") == ["integer"]
    else:
        assert family(destination_engine, "n") == "integer"
        columns = inspect(destination_engine).get_columns("results")
        assert {c["name"]: c.get("comment") for c in columns}["n"] is None
        # The label had a value in the first result set: a real TEXT column from the start.
        assert family(destination_engine, "label") == "text"
        with pytest.raises(ResultSetMismatchError, match="column 'n' is BIGINT"):
            write(writer, item("db4", [("n", T.TEXT)], [("text now",)]))


def test_the_first_values_type_wins_whichever_it_is(destination_engine: Engine) -> None:
    writer = DestinationWriter(destination_engine)
    columns = [("day", T.TEXT), ("seen", T.TEXT), ("note", T.TEXT)]
    write(writer, item("db1", columns, [(None, None, None)]))
    when = dt.datetime(2024, 2, 29, 10, 30, tzinfo=dt.UTC)
    typed = [("day", T.DATE), ("seen", T.TIMESTAMP), ("note", T.TEXT)]
    write(writer, item("db2", typed, [(dt.date(2024, 2, 29), when, "hello")]))
    if destination_engine.dialect.name != "sqlite":
        assert family(destination_engine, "day") == "date"
        assert family(destination_engine, "seen") == "timestamp"
    assert stored(destination_engine, "day, seen, note")[1][1:] in {
        (dt.date(2024, 2, 29), when, "hello"),  # PostgreSQL
        (dt.date(2024, 2, 29), when.replace(tzinfo=None), "hello"),  # MariaDB: naive UTC
        ("2024-02-29", "2024-02-29 10:30:00", "hello"),  # SQLite: as SQLAlchemy writes them
    }
    if destination_engine.dialect.name != "sqlite":
        # TEXT is a type too: the note column is now a real TEXT column.
        assert family(destination_engine, "note") == "text"
        with pytest.raises(ResultSetMismatchError, match="column 'note' is"):
            write(writer, item("db3", [("note", T.INTEGER)], [(1,)]))


def test_one_group_write_creates_the_column_then_types_it(destination_engine: Engine) -> None:
    writer = DestinationWriter(destination_engine)
    results = writer.write_result_sets(
        schema=None,
        table="results",
        items=[
            item("db1", [("n", T.TEXT)], []),
            item("db2", [("n", T.INTEGER)], [(1,), (2,)]),
            item("db3", [("n", T.TEXT)], [(None,)]),
            item("db4", [("n", T.INTEGER)], [(3,)]),
        ],
    )
    assert [(r.rows_written, r.error) for r in results] == [
        (0, None),
        (2, None),
        (1, None),
        (1, None),
    ]
    assert stored(destination_engine, "n") == [("db2", 1), ("db2", 2), ("db3", None), ("db4", 3)]


def test_results_without_values_share_their_fleets_transaction_yet_fail_alone(
    destination_engine: Engine,
) -> None:
    writer = DestinationWriter(destination_engine)
    columns = [("n", T.INTEGER), ("label", T.TEXT)]
    write(writer, item("db0", [("n", T.INTEGER), ("label", T.INTEGER)], [(0, 0)]))
    results = writer.write_result_sets(
        schema=None,
        table="results",
        items=[
            item("db1", columns, [(1, "text")]),  # label is an integer column: refused
            item("db2", columns, [(2, None)]),  # grouped with db1, yet fits on its own
            item("db3", columns, []),
        ],
    )
    assert isinstance(results[0].error, ResultSetMismatchError)
    assert [(r.rows_written, r.error) for r in results[1:]] == [(1, None), (0, None)]
    assert stored(destination_engine, "n, label") == [("db0", 0, 0), ("db2", 2, None)]


def test_concurrent_writers_type_the_column_once(destination_engine: Engine) -> None:
    write(DestinationWriter(destination_engine), item("db0", [("n", T.TEXT)], [(None,)]))
    shared = DestinationWriter(destination_engine)
    writers = 6
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        # Half the writers send integers, half send NULLs again; half share one writer.
        kind, value = (T.INTEGER, i) if i % 2 else (T.TEXT, None)
        writer = shared if i < writers // 2 else DestinationWriter(destination_engine)
        try:
            barrier.wait()
            write(writer, item(f"db{i + 1}", [("n", kind)], [(value,), (value,)]))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    values = [value for _, value in stored(destination_engine, "n")]
    assert len(values) == 1 + 2 * writers
    assert sorted(v for v in values if v is not None) == [1, 1, 3, 3, 5, 5]
    if destination_engine.dialect.name != "sqlite":
        assert family(destination_engine, "n") == "integer"


@pytest.mark.postgres
def test_a_write_rolled_back_on_postgresql_leaves_the_column_untyped(
    postgres_engine: Engine,
) -> None:
    writer = DestinationWriter(postgres_engine)
    write(writer, item("db1", [("n", T.TEXT)], [(None,)]))
    # The database refuses the value; the ALTER was part of the same transaction.
    with pytest.raises(DBAPIError, match="type bigint"):
        write(writer, item("db2", [("n", T.INTEGER)], [("not a number",)]))
    [column] = [c for c in inspect(postgres_engine).get_columns("results") if c["name"] == "n"]
    assert column.get("comment") == UNTYPED_COMMENT
    assert family(postgres_engine, "n") == "text"
    write(writer, item("db2", [("n", T.INTEGER)], [(4,)]))
    assert family(postgres_engine, "n") == "integer"
