from __future__ import annotations

import datetime as dt
import decimal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetjobs.core.sql import CanonicalType
from fleetjobs.executor.connectors import ConnectorRegistry, ScriptError, build_connectors
from fleetjobs.executor.connectors._support import build_result_set, load_pyodbc

ENGINES = {"postgresql", "mysql", "sqlite", "odbc", "mssql"}


def test_build_connectors_serves_all_five_engines(tmp_path: Path) -> None:
    connectors = build_connectors(tmp_path)
    assert set(connectors) == ENGINES
    assert all(engine == connector.engine for engine, connector in connectors.items())


def test_availability_of_every_engine(tmp_path: Path) -> None:
    registry = ConnectorRegistry.default(sqlite_root=tmp_path)
    report = {item.engine: item for item in registry.availability()}
    assert set(report) == ENGINES
    for engine in ("postgresql", "mysql", "sqlite"):
        assert report[engine].available, report[engine]
    assert report["postgresql"].driver.startswith("psycopg 3")
    assert report["mysql"].driver.startswith("PyMySQL ")
    assert report["sqlite"].driver.startswith("sqlite3 ")

    pyodbc, problem = load_pyodbc()
    assert report["odbc"].available is (pyodbc is not None)
    if pyodbc is None:
        assert report["odbc"].detail == problem
        assert not report["mssql"].available
        return
    installed = list(pyodbc.drivers())
    for name in installed:
        assert name in report["odbc"].detail
    has_sqlserver_driver = any(
        "sql server" in name.lower() or "freetds" in name.lower() for name in installed
    )
    assert report["mssql"].available is has_sqlserver_driver
    if not has_sqlserver_driver:
        assert "no SQL Server ODBC driver" in report["mssql"].detail


def test_an_unknown_engine_is_refused(tmp_path: Path) -> None:
    registry = ConnectorRegistry.default(sqlite_root=tmp_path)
    assert registry.connector_for("sqlite").engine == "sqlite"
    with pytest.raises(ScriptError) as caught:
        registry.connector_for("oracle")
    assert caught.value.refused


def test_a_missing_pyodbc_only_disables_the_odbc_engines(tmp_path: Path) -> None:
    # A fresh interpreter where `import pyodbc` fails, as it does without libodbc.
    program = textwrap.dedent(
        f"""
        import sys
        sys.modules["pyodbc"] = None
        from pathlib import Path
        from fleetjobs.executor.connectors import ConnectorRegistry, ScriptError
        from fleetjobs.executor.connectors import DatabaseAddress
        registry = ConnectorRegistry.default(sqlite_root=Path({str(tmp_path)!r}))
        for item in registry.availability():
            odbc_based = item.engine in ("odbc", "mssql")
            print(item.engine, item.available, item.detail.split(":")[0] if odbc_based else "")
        try:
            registry["odbc"].run_script(
                DatabaseAddress("odbc", "h", 0, "d", {{"driver": "x"}}), None, "SELECT 1",
                timeout_seconds=1,
            )
        except ScriptError as error:
            print("refused", error.refused)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.splitlines() == [
        "mssql False pyodbc cannot be imported",
        "mysql True ",
        "odbc False pyodbc cannot be imported",
        "postgresql True ",
        "sqlite True ",
        "refused True",
    ]


def test_values_are_normalised_and_mismatched_columns_become_text() -> None:
    result = build_result_set(
        ["flag", "when", "span", "raw", "amount"],
        [
            CanonicalType.INTEGER,
            CanonicalType.TIMESTAMP,
            CanonicalType.TIME,
            CanonicalType.BINARY,
            CanonicalType.DECIMAL,
        ],
        [
            (True, dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
             dt.timedelta(hours=1, minutes=2), memoryview(b"ab"), 3),
            (False, None, dt.timedelta(hours=-5), bytearray(b"c"), decimal.Decimal("1.5")),
        ],
    )  # fmt: skip
    assert [c.type for c in result.columns] == [
        CanonicalType.INTEGER,
        CanonicalType.TIMESTAMP,
        CanonicalType.TEXT,
        CanonicalType.BINARY,
        CanonicalType.DECIMAL,
    ]
    assert result.rows == [
        (1, dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC), "01:02:00", b"ab", decimal.Decimal(3)),
        (0, None, "-05:00:00", b"c", decimal.Decimal("1.5")),
    ]
