"""DestinationWriter against real PostgreSQL, MariaDB and SQLite databases.

Tests taking `destination_engine` run once per engine, each on a new database (conftest.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    inspect,
    select,
    text,
)

from fleetjobs.core.sql import CanonicalType, decode_rows, encode_rows
from fleetjobs.results.destination import (
    DestinationRefusedError,
    DestinationWriter,
    ResultSetMismatchError,
    build_destination_url,
    destination_type,
)
from fleetjobs.results.destination._types import type_family

T = CanonicalType
UTC = dt.UTC
COLLECTED = dt.datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)

ALL_TYPES: list[tuple[str, CanonicalType]] = [
    ("n", T.INTEGER),
    ("flag", T.BOOLEAN),
    ("ratio", T.FLOAT),
    ("amount", T.DECIMAL),
    ("label", T.TEXT),
    ("blob", T.BINARY),
    ("day", T.DATE),
    ("tod", T.TIME),
    ("seen", T.TIMESTAMP),
]

ALL_ROWS: list[tuple[Any, ...]] = [
    (
        1,
        True,
        0.1,
        decimal.Decimal("1234567890123456789012345678.0123456789"),
        "plain",
        b"\x00\x01\xff",
        dt.date(2024, 2, 29),
        dt.time(23, 59, 59, 999999),
        dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
    ),
    (
        2,
        False,
        -1.5e300,
        decimal.Decimal("-0.0000000001"),
        "ünïcödé 😀 'quote' \"dq\" `bt` \\ %s %(x)s",
        b"",
        dt.date(1, 1, 1),
        dt.time(0, 0),
        # Naive: taken as UTC.
        dt.datetime(1970, 1, 1, 0, 0, 0, 1),
    ),
    (3, None, None, None, None, None, None, None, None),
    (
        -(2**63),
        True,
        2.5,
        decimal.Decimal(0),
        "",
        bytes(range(256)),
        dt.date(9999, 12, 31),
        dt.time(12, 0, 0, 1),
        # An aware value in another zone is stored as its UTC instant.
        dt.datetime(2024, 1, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    ),
]


def write(
    engine: Engine,
    rows: Sequence[Sequence[Any]],
    *,
    columns: Sequence[tuple[str, CanonicalType]] = ALL_TYPES,
    table: str = "results",
    schema: str | None = None,
    execution: str = "11111111-1111-1111-1111-111111111111",
    database: str = "db1",
    server: str = "srv1",
) -> int:
    return DestinationWriter(engine).write_result_set(
        schema=schema,
        table=table,
        columns=columns,
        rows=rows,
        job_execution_id=execution,
        target_engine="postgresql",
        target_server_name=server,
        target_database_name=database,
        collected_at=COLLECTED,
    )


def normalise(kind: CanonicalType, value: Any) -> Any:
    """What a value read back with the reflected column types means, per canonical type."""
    if value is None:
        return None
    if kind is T.BOOLEAN:
        return bool(value)  # MySQL hands back TINYINT(1) as 0 / 1
    if kind is T.DECIMAL:
        return decimal.Decimal(value)  # SQLite keeps decimals as text
    if kind is T.BINARY:
        return bytes(value)
    if kind is T.TIMESTAMP:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def expected(kind: CanonicalType, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return normalise(kind, value)
    return value


def read(
    engine: Engine,
    columns: Sequence[tuple[str, CanonicalType]] = ALL_TYPES,
    *,
    table: str = "results",
    schema: str | None = None,
) -> list[tuple[Any, ...]]:
    """The table's rows as (result columns..., execution, database), sorted, normalised."""
    # MySQL's reflected DOUBLE hands back Decimal rounded to 10 places; read floats as floats.
    floats: list[Column[Any]] = [
        Column(name, Double(asdecimal=False)) for name, kind in columns if kind is T.FLOAT
    ]
    reflected = Table(table, MetaData(), *floats, schema=schema, autoload_with=engine)
    with engine.connect() as conn:
        records = conn.execute(select(reflected)).mappings().all()
    out = [
        (
            *(normalise(kind, record[name]) for name, kind in columns),
            record["job_execution_id"],
            record["target_database_name"],
        )
        for record in records
    ]
    return sorted(out, key=repr)


def count(engine: Engine, table: str = "results") -> int:
    reflected = Table(table, MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        return len(conn.execute(select(reflected)).all())


def test_every_canonical_type_round_trips(destination_engine: Engine) -> None:
    # Through the wire format first, as the results service receives them.
    rows = decode_rows(ALL_TYPES, encode_rows(ALL_TYPES, ALL_ROWS))
    assert write(destination_engine, rows) == len(ALL_ROWS)

    got = read(destination_engine)
    want = sorted(
        (
            *(expected(kind, value) for (_, kind), value in zip(ALL_TYPES, row, strict=True)),
            "11111111-1111-1111-1111-111111111111",
            "db1",
        )
        for row in ALL_ROWS
    )
    assert got == want

    reflected = Table("results", MetaData(), autoload_with=destination_engine)
    with destination_engine.connect() as conn:
        meta = conn.execute(
            select(
                reflected.c.target_engine,
                reflected.c.target_server_name,
                reflected.c.collected_at,
            ).distinct()
        ).all()
    assert [(e, s, normalise(T.TIMESTAMP, c)) for e, s, c in meta] == [
        ("postgresql", "srv1", COLLECTED)
    ]


def test_special_floats_where_the_engine_has_them(destination_engine: Engine) -> None:
    columns = [("f", T.FLOAT)]
    dialect = destination_engine.dialect.name
    # MySQL DOUBLE has neither NaN nor infinities, and SQLite stores NaN as NULL.
    if dialect == "mysql":
        with pytest.raises(ResultSetMismatchError, match=r"row 2, column 'f'.*cannot store inf"):
            write(destination_engine, [(1.0,), (math.inf,)], columns=columns)
        return
    values = [math.inf, -math.inf] + ([math.nan] if dialect == "postgresql" else [])
    write(destination_engine, [(v,) for v in values], columns=columns)
    got = [row[0] for row in read(destination_engine, columns)]
    assert sorted(map(repr, got)) == sorted(map(repr, values))  # repr: nan != nan


def test_a_second_write_replaces_that_databases_rows(destination_engine: Engine) -> None:
    columns = [("n", T.INTEGER), ("label", T.TEXT)]
    first = [(1, "a"), (2, "b"), (3, "c")]
    write(destination_engine, first, columns=columns)
    # Other executions and other databases of the same execution keep their rows.
    write(destination_engine, [(10, "other exec")], columns=columns, execution="exec-2")
    write(destination_engine, [(20, "other db")], columns=columns, database="db2")
    write(destination_engine, [(30, "other server")], columns=columns, server="srv2")

    assert write(destination_engine, [(4, "d"), (5, "e")], columns=columns) == 2

    execution = "11111111-1111-1111-1111-111111111111"
    assert read(destination_engine, columns) == sorted(
        [
            (4, "d", execution, "db1"),
            (5, "e", execution, "db1"),
            (10, "other exec", "exec-2", "db1"),
            (20, "other db", execution, "db2"),
            (30, "other server", execution, "db1"),
        ],
        key=repr,
    )


def test_a_zero_row_result_set_creates_the_table_and_clears_old_rows(
    destination_engine: Engine,
) -> None:
    columns = [("n", T.INTEGER)]
    assert write(destination_engine, [], columns=columns, table="empty_first") == 0
    assert inspect(destination_engine).has_table("empty_first")
    write(destination_engine, [(1,), (2,)], columns=columns)
    write(destination_engine, [(3,)], columns=columns, database="db2")
    assert write(destination_engine, [], columns=columns) == 0
    assert [r[0] for r in read(destination_engine, columns)] == [3]


def test_database_names_differing_only_in_case_are_different_databases(
    destination_engine: Engine,
) -> None:
    # PostgreSQL allows "Sales" and "sales" side by side; a case-insensitive collation on the
    # metadata columns would let one replace the other's rows.
    columns = [("n", T.INTEGER)]
    write(destination_engine, [(1,)], columns=columns, database="Sales")
    write(destination_engine, [(2,)], columns=columns, database="sales")
    write(destination_engine, [(3,)], columns=columns, database="sales")
    assert [r[0] for r in read(destination_engine, columns)] == [1, 3]


def test_mismatched_result_sets_fail_clearly_and_change_nothing(
    destination_engine: Engine,
) -> None:
    columns = [("n", T.INTEGER), ("label", T.TEXT)]
    write(destination_engine, [(1, "a")], columns=columns)
    before_columns = [c["name"] for c in inspect(destination_engine).get_columns("results")]

    with pytest.raises(ResultSetMismatchError) as missing:
        write(destination_engine, [(2, "b")], columns=[("n", T.INTEGER), ("other", T.TEXT)])
    assert "destination table results has no column 'other'" in missing.value.message
    assert "never adds columns" in missing.value.message

    with pytest.raises(ResultSetMismatchError) as incompatible:
        write(destination_engine, [("x", "b")], columns=[("n", T.TEXT), ("label", T.TEXT)])
    message = incompatible.value.message
    assert "destination table results: column 'n' is BIGINT" in message
    assert "cannot hold the result set's text values" in message

    with pytest.raises(ResultSetMismatchError, match="column 'label' is"):
        write(destination_engine, [(2, 5)], columns=[("n", T.INTEGER), ("label", T.INTEGER)])

    assert [c["name"] for c in inspect(destination_engine).get_columns("results")] == (
        before_columns
    )
    assert [r[:2] for r in read(destination_engine, columns)] == [(1, "a")]


def test_result_columns_match_existing_ones_ignoring_case_and_in_any_order(
    destination_engine: Engine,
) -> None:
    write(destination_engine, [(1, "a")], columns=[("n", T.INTEGER), ("label", T.TEXT)])
    # A subset, in another order, other case: the table's missing column is nullable.
    write(destination_engine, [("b",)], columns=[("LABEL", T.TEXT)], database="db2")
    rows = read(destination_engine, [("n", T.INTEGER), ("label", T.TEXT)])
    assert [r[:2] for r in rows] == [(1, "a"), (None, "b")]


def test_a_table_created_by_hand_with_aliased_types_is_accepted(
    destination_engine: Engine,
) -> None:
    metadata = MetaData()
    Table(
        "by_hand",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("n", Integer),  # 32-bit integer for integer values
        Column("amount", Numeric(20, 4)),  # a constrained numeric for integer values
        Column("price", Numeric(20, 4)),
        Column("label", String(50)),
        Column("flag", Integer),  # a boolean stored as a number
        *metadata_columns(destination_engine),
    )
    metadata.create_all(destination_engine)
    columns = [
        ("n", T.INTEGER),
        ("amount", T.INTEGER),
        ("price", T.DECIMAL),
        ("label", T.TEXT),
        ("flag", T.BOOLEAN),
    ]
    row = (7, 8, decimal.Decimal("9.5"), "x", True)
    write(destination_engine, [row], columns=columns, table="by_hand")
    [got] = read(destination_engine, columns, table="by_hand")
    assert got[:5] == row


def destination_timestamp(engine: Engine) -> Any:
    return destination_type(T.TIMESTAMP, engine.dialect.name)


def test_a_sqlite_destination_in_a_new_directory(sqlite_root: Path) -> None:
    url = build_destination_url("sqlite", "", 0, "new/dir/d.db", "", "", sqlite_root=sqlite_root)
    engine = create_engine(url)
    try:
        assert write(engine, [(1,)], columns=[("n", T.INTEGER)]) == 1
    finally:
        engine.dispose()
    assert (sqlite_root / "new" / "dir" / "d.db").is_file()


def metadata_columns(engine: Engine) -> list[Column[Any]]:
    return [
        Column("job_execution_id", String(36), nullable=False),
        Column("target_engine", String(32), nullable=False),
        Column("target_server_name", String(255), nullable=False),
        Column("target_database_name", String(255), nullable=False),
        Column("collected_at", destination_timestamp(engine), nullable=False),
    ]


def test_a_not_null_column_the_result_set_cannot_fill_is_a_mismatch(
    destination_engine: Engine,
) -> None:
    metadata = MetaData()
    Table("no_meta", metadata, Column("n", BigInteger))
    Table(
        "strict",
        metadata,
        Column("n", BigInteger),
        Column("must", BigInteger, nullable=False),
        *metadata_columns(destination_engine),
    )
    # A BIGINT key is not SQLite's self-numbering rowid (only INTEGER is), so it needs a value.
    Table(
        "keyed",
        metadata,
        Column("k", BigInteger, primary_key=True, autoincrement=False),
        Column("n", BigInteger),
        *metadata_columns(destination_engine),
    )
    metadata.create_all(destination_engine)
    columns = [("n", T.INTEGER)]
    with pytest.raises(ResultSetMismatchError, match="no column 'job_execution_id'"):
        write(destination_engine, [(1,)], columns=columns, table="no_meta")
    with pytest.raises(ResultSetMismatchError, match="strict: column 'must' is NOT NULL"):
        write(destination_engine, [(1,)], columns=columns, table="strict")
    with pytest.raises(ResultSetMismatchError, match="keyed: column 'k' is NOT NULL"):
        write(destination_engine, [(1,)], columns=columns, table="keyed")


def test_awkward_column_names_from_result_sets_are_quoted(destination_engine: Engine) -> None:
    names = [
        "a b",
        'a"b',
        "a`b",
        "a'b",
        "50%",
        "%(x)s",
        "x(y)",
        "c:d",
        "e.f",
        "[g]",
        "select",
        "Mixed Case",
        "x; DROP TABLE results",
        "ümlaut",
    ]
    columns = [(name, T.INTEGER) for name in names]
    row = tuple(range(len(names)))
    write(destination_engine, [row], columns=columns, table="odd")
    write(destination_engine, [row], columns=columns, table="odd")  # reflected this time
    # Read through an explicit Table: SQLAlchemy's MySQL reflection leaves the backtick in
    # `a``b` doubled, which the writer corrects from information_schema.
    odd = Table("odd", MetaData(), *(Column(name, BigInteger) for name in names))
    with destination_engine.connect() as conn:
        assert conn.execute(select(odd)).all() == [row]


def test_concurrent_writers_creating_the_same_table_all_succeed(
    destination_engine: Engine,
) -> None:
    columns = [("n", T.INTEGER), ("label", T.TEXT)]
    writers = 6
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            write(destination_engine, [(i, "x"), (i, "y")], columns=columns, database=f"db{i}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(destination_engine) == writers * 2


def test_concurrent_deliveries_of_the_same_result_never_duplicate_rows(
    destination_engine: Engine,
) -> None:
    columns = [("n", T.INTEGER)]
    write(destination_engine, [(0,)], columns=columns)  # the table exists; the race is the rows
    writers = 6
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            write(destination_engine, [(n,) for n in range(50)], columns=columns)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(destination_engine) == 50


def test_same_columns_make_equivalent_tables_on_every_engine(
    open_destination: Callable[[str], Engine],
) -> None:
    families: dict[str, list[tuple[str, str, bool]]] = {}
    for kind in ("postgresql", "mysql", "sqlite"):
        engine = open_destination(kind)
        write(engine, ALL_ROWS, table="same")
        reflected = inspect(engine).get_columns("same")
        families[kind] = [
            (c["name"], type_family(c["type"], kind), bool(c["nullable"])) for c in reflected
        ]
        indexes = inspect(engine).get_indexes("same")
        assert [i["column_names"] for i in indexes] == [
            ["job_execution_id", "target_engine", "target_server_name", "target_database_name"]
        ]

    names = [name for name, _ in ALL_TYPES] + [
        "job_execution_id",
        "target_engine",
        "target_server_name",
        "target_database_name",
        "collected_at",
    ]
    for kind, columns in families.items():
        assert [name for name, _, _ in columns] == names, kind
        assert [nullable for _, _, nullable in columns] == [True] * 9 + [False] * 5, kind

    # The same families everywhere, except where an engine has no such type: MySQL's BOOL is
    # TINYINT(1), and SQLite keeps decimals as text so no digit is lost.
    expected_families = [
        "integer",
        "boolean",
        "float",
        "numeric",
        "text",
        "binary",
        "date",
        "time",
        "timestamp",
        "text",
        "text",
        "text",
        "text",
        "timestamp",
    ]
    assert [f for _, f, _ in families["postgresql"]] == expected_families
    mysql = list(expected_families)
    mysql[1] = "integer"
    assert [f for _, f, _ in families["mysql"]] == mysql
    sqlite = list(expected_families)
    sqlite[3] = "text"
    assert [f for _, f, _ in families["sqlite"]] == sqlite


@pytest.mark.postgres
def test_a_schema_on_postgresql(postgres_engine: Engine) -> None:
    with postgres_engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA reports"))
    columns = [("n", T.INTEGER)]
    write(postgres_engine, [(1,)], columns=columns, schema="reports", table="daily")
    write(postgres_engine, [(2,)], columns=columns, schema="reports", table="daily")
    assert inspect(postgres_engine).has_table("daily", schema="reports")
    assert not inspect(postgres_engine).has_table("daily")
    assert [r[0] for r in read(postgres_engine, columns, table="daily", schema="reports")] == [2]

    with pytest.raises(DestinationRefusedError, match="schema 'nope' does not exist"):
        write(postgres_engine, [(1,)], columns=columns, schema="nope", table="daily")


@pytest.mark.postgres
def test_a_failed_insert_rolls_back_the_table_creation_on_postgresql(
    postgres_engine: Engine,
) -> None:
    # PostgreSQL DDL is transactional, so a write that fails leaves no half-made table behind.
    with pytest.raises(ResultSetMismatchError, match=r"row 2, column 's'.*NUL"):
        write(postgres_engine, [("ok",), ("bad\x00text",)], columns=[("s", T.TEXT)], table="never")
    assert not inspect(postgres_engine).has_table("never")
