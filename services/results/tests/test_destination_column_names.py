"""Result-set column names each destination engine cannot hold are refused before the
destination is touched: lengths counted as the engine counts them (PostgreSQL in UTF-8 bytes,
MySQL / MariaDB in characters), and control or invisible characters on every engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination import DestinationWriter, ResultSetMismatchError
from fleetjobs.results.destination._names import check_result_columns

T = CanonicalType


def write(engine: Engine, name: str, *, table: str = "results", database: str = "db1") -> int:
    return DestinationWriter(engine).write_result_set(
        schema=None,
        table=table,
        columns=[(name, T.INTEGER)],
        rows=[(1,)],
        job_execution_id="11111111-1111-1111-1111-111111111111",
        target_engine="sqlite",
        target_server_name="",
        target_database_name=database,
        collected_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )


def column_names(engine: Engine, table: str = "results") -> list[str]:
    return [column["name"] for column in inspect(engine).get_columns(table)]


@pytest.mark.postgres
def test_postgresql_counts_name_lengths_in_bytes(postgres_engine: Engine) -> None:
    # 40 x 'é' is 40 characters but 80 bytes: PostgreSQL would cut it to 63 bytes, and the
    # next write would find no column of that name.
    for table in ("fresh", "existing"):
        if table == "existing":
            write(postgres_engine, "n", table=table)
        before = inspect(postgres_engine).has_table(table) and column_names(postgres_engine, table)
        with pytest.raises(ResultSetMismatchError) as refused:
            write(postgres_engine, "é" * 40, table=table, database="db2")
        assert refused.value.message == (
            f"column {'é' * 40!r} of the result set for table {table} is 80 bytes long in "
            "UTF-8; postgresql allows at most 63 bytes; rename it with AS"
        )
        if table == "fresh":
            assert not inspect(postgres_engine).has_table(table)
        else:
            assert column_names(postgres_engine, table) == before
    with pytest.raises(ResultSetMismatchError, match="64 bytes long"):
        write(postgres_engine, "é" * 32)
    fits = "é" * 31 + "x"  # 63 bytes
    write(postgres_engine, fits)
    write(postgres_engine, fits, database="db2")  # reflected: the name came back whole
    assert column_names(postgres_engine)[0] == fits


@pytest.mark.mariadb
def test_mariadb_counts_name_lengths_in_characters(
    open_destination: Callable[[str], Engine],
) -> None:
    engine = open_destination("mysql")
    write(engine, "é" * 64)  # 128 bytes, 64 characters
    write(engine, "é" * 64, database="db2")
    assert column_names(engine)[0] == "é" * 64
    with pytest.raises(ResultSetMismatchError, match="is 65 characters long; mysql allows"):
        write(engine, "é" * 65, table="longer")
    with pytest.raises(ResultSetMismatchError, match=r"Basic Multilingual Plane \(U\+1F600\)"):
        write(engine, "smile 😀", table="emoji")
    assert not inspect(engine).has_table("longer")
    assert not inspect(engine).has_table("emoji")


CONTROLS = [
    "a\nb",
    "a\rb",
    "a\tb",
    "line\n",
    "a\x00b",
    "a\x01b",
    "a\x7fb",
    "a\x85b",  # C1: NEXT LINE
    "a\u2028b",  # LINE SEPARATOR
    "a\u202eb",  # RIGHT-TO-LEFT OVERRIDE: displays the name reversed
    "a\u200bb",  # ZERO WIDTH SPACE
    "\ufeffa",  # BYTE ORDER MARK
]


@pytest.mark.parametrize("name", CONTROLS)
def test_control_and_invisible_characters_are_refused_on_every_engine(name: str) -> None:
    for dialect in ("postgresql", "mysql", "sqlite"):
        with pytest.raises(ResultSetMismatchError, match="control or invisible character"):
            check_result_columns([(name, T.INTEGER)], table="t", dialect=dialect)


def test_joiners_that_words_need_are_kept() -> None:
    # ZERO WIDTH NON-JOINER is part of Persian spelling ("می‌خواهم").
    for dialect in ("postgresql", "mysql", "sqlite"):
        check_result_columns([("می\u200cخواهم", T.INTEGER)], table="t", dialect=dialect)


def test_sqlite_names_are_bounded_too() -> None:
    check_result_columns([("é" * 512, T.INTEGER)], table="t", dialect="sqlite")
    with pytest.raises(ResultSetMismatchError, match="1026 bytes long in UTF-8; sqlite"):
        check_result_columns([("é" * 513, T.INTEGER)], table="t", dialect="sqlite")


def test_a_newline_in_a_column_name_never_reaches_a_destination(
    destination_engine: Engine,
) -> None:
    write(destination_engine, "n")
    for name in ("a\nb", "x\r\ny", "tab\tbed", "bell\x07"):
        with pytest.raises(ResultSetMismatchError, match="control or invisible character"):
            write(destination_engine, name, database="db2")
        with pytest.raises(ResultSetMismatchError, match="control or invisible character"):
            write(destination_engine, name, table="never")
    assert column_names(destination_engine)[0] == "n"
    assert not inspect(destination_engine).has_table("never")
    with destination_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM results")).scalar() == 1
