"""Name rules and destination URLs: no database needed."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from fleetjobs.core.sql import CanonicalType
from fleetjobs.results.destination import (
    METADATA_COLUMNS,
    DestinationRefusedError,
    DestinationWriter,
    ResultSetMismatchError,
    build_destination_url,
    validate_identifier,
)

T = CanonicalType


@pytest.mark.parametrize(
    "name", ["results", "_x", "Daily_Sizes", "a$b", "t1", "a" * 63, "select", "fleet_results"]
)
def test_valid_identifiers(name: str) -> None:
    assert validate_identifier("table", name) is None


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("x; DROP TABLE y", "may only contain"),
        ('a"b', "may only contain"),
        ("a`b", "may only contain"),
        ("a'b", "may only contain"),
        ("", "is empty"),
        ("a" * 64, "64 characters long; at most 63"),
        ("s.t", "may only contain"),
        ("a b", "may only contain"),
        ("a\tb", "may only contain"),
        ("1abc", "must start with a letter"),
        ("$abc", "must start with a letter"),
        ("tablé", "may only contain"),
        ("x\n", "may only contain"),
        ("sqlite_master", "SQLite reserves"),
    ],
)
def test_hostile_identifiers_are_rejected(name: str, fragment: str) -> None:
    problem = validate_identifier("table", name)
    assert problem is not None
    assert fragment in problem
    assert problem.startswith("table name")


def test_writer_refuses_an_invalid_table_or_schema_before_touching_the_database(
    sqlite_root: Path,
) -> None:
    engine = create_engine(f"sqlite:///{sqlite_root / 'never.db'}")
    writer = DestinationWriter(engine)
    base = {
        "columns": [("a", T.INTEGER)],
        "rows": [(1,)],
        "job_execution_id": "e",
        "target_engine": "sqlite",
        "target_server_name": "",
        "target_database_name": "d",
        "collected_at": dt.datetime(2024, 1, 1),
    }
    with pytest.raises(DestinationRefusedError, match="table name 'x; DROP TABLE y'"):
        writer.write_result_set(schema=None, table="x; DROP TABLE y", **base)  # type: ignore[arg-type]
    with pytest.raises(DestinationRefusedError, match="schema name 'a\"b'"):
        writer.write_result_set(schema='a"b', table="t", **base)  # type: ignore[arg-type]
    assert not (sqlite_root / "never.db").exists()


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        ([("a", T.INTEGER), ("A", T.TEXT)], "more than one column named 'a'"),
        ([("x", T.INTEGER), ("x", T.INTEGER)], "more than one column named 'x'"),
        ([("Job_Execution_Id", T.TEXT)], "name of a column fleetjobs adds"),
        ([("collected_at", T.TIMESTAMP)], "name of a column fleetjobs adds"),
        ([("", T.TEXT)], "column 1 of the result set for table t has no name"),
        ([("ok", T.TEXT), ("  ", T.TEXT)], "column 2 .* has no name"),
    ],
)
def test_result_set_column_names_that_cannot_be_used(
    sqlite_root: Path, columns: list[tuple[str, CanonicalType]], fragment: str
) -> None:
    writer = DestinationWriter(create_engine(f"sqlite:///{sqlite_root / 'n.db'}"))
    with pytest.raises(ResultSetMismatchError, match=fragment):
        writer.write_result_set(
            schema=None,
            table="t",
            columns=columns,
            rows=[],
            job_execution_id="e",
            target_engine="sqlite",
            target_server_name="",
            target_database_name="d",
            collected_at=dt.datetime(2024, 1, 1),
        )


def test_metadata_columns_are_the_documented_ones() -> None:
    assert METADATA_COLUMNS == (
        "job_execution_id",
        "target_engine",
        "target_server_name",
        "target_database_name",
        "collected_at",
    )


def test_url_keeps_any_password_out_of_strings(sqlite_root: Path) -> None:
    password = "p@ss:w/rd%?#&= '\"\\"
    url = build_destination_url(
        "postgresql", "db.example", 6543, "fleet", "us er@x", password, sqlite_root=sqlite_root
    )
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == (
        "db.example",
        6543,
        "fleet",
        "us er@x",
    )
    assert url.password == password
    assert password not in str(url)
    assert password not in repr(url)
    # The rendered form parses back to the same password (it is escaped, never raw).
    from sqlalchemy.engine import make_url

    assert make_url(url.render_as_string(hide_password=False)).password == password


def test_mysql_url_and_default_ports(sqlite_root: Path) -> None:
    url = build_destination_url("mysql", "h", 0, "d", "root", "", sqlite_root=sqlite_root)
    assert url.drivername == "mysql+pymysql"
    assert url.port is None
    assert url.password is None
    assert url.query["charset"] == "utf8mb4"


def test_engines_without_a_destination_driver_are_refused(sqlite_root: Path) -> None:
    with pytest.raises(DestinationRefusedError, match="no destination driver for engine 'mssql'"):
        build_destination_url("mssql", "h", 1433, "d", "u", "p", sqlite_root=sqlite_root)


def test_sqlite_paths_stay_inside_the_root(tmp_path: Path, sqlite_root: Path) -> None:
    url = build_destination_url(
        "sqlite", "ignored", 1, "sub/r.db", "u", "p", sqlite_root=sqlite_root
    )
    assert url.drivername == "sqlite+pysqlite"
    assert url.database == str((sqlite_root / "sub" / "r.db").resolve())
    assert url.password is None

    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, sqlite_root / "link")
    for name in ["../x.db", "/etc/x.db", str(outside / "x.db"), "link/x.db", "", ".", "a/../.."]:
        with pytest.raises(DestinationRefusedError, match="not a file inside"):
            build_destination_url("sqlite", "", 0, name, "", "", sqlite_root=sqlite_root)
