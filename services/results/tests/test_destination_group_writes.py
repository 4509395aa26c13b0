"""`DestinationWriter.write_result_sets` (several databases in one transaction) and the
writer's table cache, against real PostgreSQL, MariaDB and SQLite databases.

Tests taking `destination_engine` run once per engine, each on a new database (conftest.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    event,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination import (
    DestinationRefusedError,
    DestinationWriter,
    ResultSetItem,
    ResultSetMismatchError,
    WriteResult,
    destination_type,
)

T = CanonicalType
COLLECTED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
EXECUTION = "22222222-2222-2222-2222-222222222222"
COLUMNS: list[tuple[str, CanonicalType]] = [("n", T.INTEGER), ("label", T.TEXT)]


def item(
    database: str,
    rows: Sequence[Sequence[Any]],
    *,
    columns: Sequence[tuple[str, CanonicalType]] = COLUMNS,
    execution: str = EXECUTION,
) -> ResultSetItem:
    return ResultSetItem(
        columns=columns,
        rows=rows,
        job_execution_id=execution,
        target_engine="postgresql",
        target_server_name="srv1",
        target_database_name=database,
        collected_at=COLLECTED,
    )


def rows_by_database(
    engine: Engine, table: str = "results", execution: str | None = EXECUTION
) -> dict[str, list[tuple[Any, ...]]]:
    """{database: sorted (n, label)} of one execution's rows (every execution's with None)."""
    reflected = Table(table, MetaData(), autoload_with=engine)
    query = select(reflected.c.target_database_name, reflected.c.n, reflected.c.label)
    if execution is not None:
        query = query.where(reflected.c.job_execution_id == execution)
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for database, n, label in conn.execute(query):
            found.setdefault(database, []).append((n, label))
    return {database: sorted(rows) for database, rows in found.items()}


def rows_written(results: list[WriteResult]) -> list[int]:
    for result in results:
        assert result.error is None, result.error
    return [result.rows_written for result in results]


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine sends while inside the block, executemany counted once."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def commits(engine: Engine) -> Iterator[list[None]]:
    seen: list[None] = []

    def record(_conn: Any) -> None:
        seen.append(None)

    event.listen(engine, "commit", record)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", record)


_REFLECTION_MARKERS = ("information_schema", "pg_catalog", "pragma", "show create", "describe")


def reflections(sent: list[str]) -> list[str]:
    """The statements that look at the database's catalog (table reflection)."""
    return [s for s in sent if any(marker in s.lower() for marker in _REFLECTION_MARKERS)]


def test_a_group_writes_every_database_in_one_transaction(destination_engine: Engine) -> None:
    writer = DestinationWriter(destination_engine)
    databases = [f"db{i}" for i in range(6)]
    # Another execution's rows for the same databases stay untouched throughout.
    writer.write_result_set(
        schema=None,
        table="results",
        columns=COLUMNS,
        rows=[(99, "other")],
        job_execution_id="exec-other",
        target_engine="postgresql",
        target_server_name="srv1",
        target_database_name="db0",
        collected_at=COLLECTED,
    )

    first = [item(db, [(i, "a"), (i, "b")][: i % 3]) for i, db in enumerate(databases)]
    with commits(destination_engine) as committed, statements(destination_engine) as sent:
        results = writer.write_result_sets(schema=None, table="results", items=first)
    assert rows_written(results) == [0, 1, 2, 0, 1, 2]
    assert len(committed) == 1
    assert len([s for s in sent if s.lstrip().upper().startswith("INSERT")]) == 1
    assert rows_by_database(destination_engine) == {
        "db1": [(1, "a")],
        "db2": [(2, "a"), (2, "b")],
        "db4": [(4, "a")],
        "db5": [(5, "a"), (5, "b")],
    }

    # A second delivery replaces each database's rows, whatever it wrote before.
    second = [item(db, [(10 + i, "new")]) for i, db in enumerate(databases)]
    second[5] = item("db5", [])
    results = writer.write_result_sets(schema=None, table="results", items=second)
    assert rows_written(results) == [1, 1, 1, 1, 1, 0]
    assert rows_by_database(destination_engine) == {
        db: [(10 + i, "new")] for i, db in enumerate(databases[:5])
    }
    assert rows_by_database(destination_engine, execution="exec-other") == {"db0": [(99, "other")]}


def test_items_for_the_same_database_keep_the_last_ones_rows(destination_engine: Engine) -> None:
    writer = DestinationWriter(destination_engine)
    results = writer.write_result_sets(
        schema=None,
        table="results",
        items=[
            item("db1", [(1, "first")]),
            item("db2", [(2, "only")]),
            item("db1", [(3, "second"), (4, "second")]),
        ],
    )
    assert rows_written(results) == [1, 1, 2]
    assert rows_by_database(destination_engine) == {
        "db1": [(3, "second"), (4, "second")],
        "db2": [(2, "only")],
    }


def test_a_batch_that_fails_alone_does_not_fail_the_group(destination_engine: Engine) -> None:
    # A table made by hand whose CHECK constraint only the database enforces: the refusal
    # comes from the INSERT of the whole group, and the writer must find whose row it was.
    metadata = MetaData()
    Table(
        "checked",
        metadata,
        Column("n", BigInteger),
        Column("label", Text),
        *metadata_columns(destination_engine),
        CheckConstraint("n >= 0", name="n_not_negative"),
    )
    metadata.create_all(destination_engine)
    writer = DestinationWriter(destination_engine)
    writer.write_result_sets(
        schema=None,
        table="checked",
        items=[item(db, [(0, "old")]) for db in ("good1", "negative", "wide", "typed", "good2")],
    )

    results = writer.write_result_sets(
        schema=None,
        table="checked",
        items=[
            item("good1", [(1, "new")]),
            item("negative", [(2, "new"), (-1, "refused by the CHECK")]),
            item("wide", [(3, "new", "one value too many")]),
            item("typed", [("x", "new")], columns=[("n", T.TEXT), ("label", T.TEXT)]),
            item("good2", [(5, "new")]),
        ],
    )
    assert [r.error is None for r in results] == [True, False, False, False, True]
    assert [r.rows_written for r in results] == [1, 0, 0, 0, 1]
    assert isinstance(results[1].error, DBAPIError)
    assert isinstance(results[2].error, ValueError)
    assert "row 1 has 3 values" in str(results[2].error)
    assert isinstance(results[3].error, ResultSetMismatchError)
    assert "column 'n' is BIGINT" in str(results[3].error)
    # The failed databases keep their earlier rows: their replacement changed nothing.
    assert rows_by_database(destination_engine, "checked") == {
        "good1": [(1, "new")],
        "negative": [(0, "old")],
        "wide": [(0, "old")],
        "typed": [(0, "old")],
        "good2": [(5, "new")],
    }


def metadata_columns(engine: Engine) -> list[Column[Any]]:
    return [
        Column("job_execution_id", String(36), nullable=False),
        Column("target_engine", String(32), nullable=False),
        Column("target_server_name", String(255), nullable=False),
        Column("target_database_name", String(255), nullable=False),
        Column("collected_at", destination_type(T.TIMESTAMP, engine.dialect.name), nullable=False),
    ]


def test_a_value_coercion_failure_fails_only_its_item(destination_engine: Engine) -> None:
    writer = DestinationWriter(destination_engine)
    columns = [("f", T.FLOAT), ("s", T.TEXT)]
    dialect = destination_engine.dialect.name
    # A value Python already knows the column cannot take: NUL in PostgreSQL text, infinity
    # in a MySQL DOUBLE; SQLite takes both, so there a row of the wrong length stands in.
    bad: tuple[Any, ...] = {
        "postgresql": (1.0, "nul\x00"),
        "mysql": (float("inf"), "x"),
        "sqlite": (1.0,),
    }[dialect]
    results = writer.write_result_sets(
        schema=None,
        table="coerced",
        items=[
            item("ok1", [(1.5, "a")], columns=columns),
            item("bad", [(2.5, "b"), bad], columns=columns),
            item("ok2", [(3.5, "c")], columns=columns),
        ],
    )
    assert [r.rows_written for r in results] == [1, 0, 1]
    assert results[0].error is None
    assert results[2].error is None
    assert isinstance(results[1].error, ResultSetMismatchError | ValueError)
    if dialect != "sqlite":
        assert "row 2" in str(results[1].error)


def test_a_group_where_every_item_fails_creates_no_table_on_postgresql(
    postgres_engine: Engine,
) -> None:
    writer = DestinationWriter(postgres_engine)
    results = writer.write_result_sets(
        schema=None,
        table="never",
        items=[item(db, [(1, "bad\x00")]) for db in ("db1", "db2")],
    )
    assert all(isinstance(r.error, ResultSetMismatchError) for r in results)
    with postgres_engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('never')")).scalar() is None


def test_an_invalid_table_name_fails_every_item(destination_engine: Engine) -> None:
    results = DestinationWriter(destination_engine).write_result_sets(
        schema=None, table="bad name", items=[item("db1", []), item("db2", [])]
    )
    assert all(isinstance(r.error, DestinationRefusedError) for r in results)


def test_a_checked_table_is_not_reflected_again(destination_engine: Engine) -> None:
    writer = DestinationWriter(destination_engine)
    writer.write_result_sets(schema=None, table="results", items=[item("db1", [(1, "a")])])
    with statements(destination_engine) as sent:
        writer.write_result_sets(schema=None, table="results", items=[item("db2", [(2, "b")])])
        writer.write_result_sets(
            schema=None, table="results", items=[item("db1", [(3, "c")]), item("db3", [])]
        )
    assert sent  # the listener sees the writes
    assert reflections(sent) == []

    # Another signature on the same table is checked once, then trusted as well.
    subset = [("label", T.TEXT)]
    with statements(destination_engine) as sent:
        writer.write_result_sets(
            schema=None, table="results", items=[item("db4", [("x",)], columns=subset)]
        )
    assert reflections(sent) != []
    with statements(destination_engine) as sent:
        writer.write_result_sets(
            schema=None, table="results", items=[item("db5", [("y",)], columns=subset)]
        )
    assert reflections(sent) == []

    # A writer of its own (another process) checks the table first.
    with statements(destination_engine) as sent:
        DestinationWriter(destination_engine).write_result_sets(
            schema=None, table="results", items=[item("db6", [(6, "f")])]
        )
    assert reflections(sent) != []
    assert rows_by_database(destination_engine) == {
        "db1": [(3, "c")],
        "db2": [(2, "b")],
        "db4": [(None, "x")],
        "db5": [(None, "y")],
        "db6": [(6, "f")],
    }


def test_a_column_dropped_behind_the_cache_is_a_clear_mismatch(
    destination_engine: Engine,
) -> None:
    writer = DestinationWriter(destination_engine)
    writer.write_result_sets(schema=None, table="results", items=[item("db1", [(1, "a")])])
    writer.write_result_sets(schema=None, table="results", items=[item("db2", [(2, "b")])])
    with destination_engine.begin() as conn:
        conn.execute(text("ALTER TABLE results DROP COLUMN label"))

    [result] = writer.write_result_sets(
        schema=None, table="results", items=[item("db1", [(3, "c")])]
    )
    assert isinstance(result.error, ResultSetMismatchError)
    assert "destination table results has no column 'label'" in result.error.message
    # Nothing was lost: db1 keeps its earlier row.
    reflected = Table("results", MetaData(), autoload_with=destination_engine)
    with destination_engine.connect() as conn:
        left = conn.execute(
            select(reflected.c.target_database_name, reflected.c.n).order_by(reflected.c.n)
        ).all()
    assert [tuple(row) for row in left] == [("db1", 1), ("db2", 2)]

    # The single-item API says the same.
    with pytest.raises(ResultSetMismatchError, match="no column 'label'"):
        writer.write_result_set(
            schema=None,
            table="results",
            columns=COLUMNS,
            rows=[(4, "d")],
            job_execution_id=EXECUTION,
            target_engine="postgresql",
            target_server_name="srv1",
            target_database_name="db1",
            collected_at=COLLECTED,
        )


def test_a_not_null_column_added_behind_the_cache_is_a_clear_mismatch(
    destination_engine: Engine,
) -> None:
    dialect = destination_engine.dialect.name
    if dialect == "sqlite":
        pytest.skip("SQLite adds a NOT NULL column only with a default, which makes it fillable")
    writer = DestinationWriter(destination_engine)
    writer.write_result_sets(schema=None, table="results", items=[item("db1", [(1, "a")])])
    with destination_engine.begin() as conn:
        if dialect == "postgresql":
            # The existing row needs a value; the default goes again at once.
            conn.execute(text("ALTER TABLE results ADD COLUMN must BIGINT NOT NULL DEFAULT 0"))
            conn.execute(text("ALTER TABLE results ALTER COLUMN must DROP DEFAULT"))
        else:
            conn.execute(text("ALTER TABLE results ADD COLUMN must BIGINT NOT NULL"))
    [result] = writer.write_result_sets(
        schema=None, table="results", items=[item("db2", [(2, "b")])]
    )
    assert isinstance(result.error, ResultSetMismatchError)
    assert "column 'must' is NOT NULL without a default" in result.error.message


def test_a_table_dropped_behind_the_cache_is_created_again(destination_engine: Engine) -> None:
    writer = DestinationWriter(destination_engine)
    writer.write_result_sets(schema=None, table="results", items=[item("db1", [(1, "a")])])
    with destination_engine.begin() as conn:
        conn.execute(text("DROP TABLE results"))
    results = writer.write_result_sets(
        schema=None, table="results", items=[item("db1", [(2, "b")]), item("db2", [(3, "c")])]
    )
    assert rows_written(results) == [1, 1]
    assert rows_by_database(destination_engine) == {"db1": [(2, "b")], "db2": [(3, "c")]}


def test_overlapping_groups_written_concurrently_neither_deadlock_nor_duplicate(
    destination_engine: Engine,
) -> None:
    writer = DestinationWriter(destination_engine)
    databases = [f"db{i}" for i in range(8)]
    writer.write_result_sets(schema=None, table="results", items=[item("db0", [])])
    threads_count = 4
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            # Each thread its own order of the same databases.
            order = databases[number:] + databases[:number]
            if number % 2:
                order.reverse()
            barrier.wait()
            for _ in range(3):
                results = writer.write_result_sets(
                    schema=None,
                    table="results",
                    items=[item(db, [(number, db), (number + 100, db)]) for db in order],
                )
                for result in results:
                    if result.error is not None:
                        errors.append(result.error)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = rows_by_database(destination_engine)
    assert sorted(found) == databases
    # Each database holds exactly one writer's two rows.
    for db, rows in found.items():
        assert len(rows) == 2, (db, rows)
        assert rows[1][0] == rows[0][0] + 100
