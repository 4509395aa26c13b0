from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fleetjobs.core.sql import CanonicalType
from fleetjobs.executor.connectors import DatabaseAddress, ScriptError, SqliteConnector

TIMEOUT = 30.0


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "sqlite-root"
    root.mkdir()
    return root


@pytest.fixture
def connector(root: Path) -> SqliteConnector:
    return SqliteConnector(root)


def at(name: str) -> DatabaseAddress:
    return DatabaseAddress("sqlite", "", 0, name)


def test_runs_a_multi_statement_script_and_keeps_the_first_result_set(
    connector: SqliteConnector, root: Path
) -> None:
    script = """
        CREATE TABLE item (id INTEGER PRIMARY KEY, label TEXT);
        CREATE TABLE log (msg TEXT);
        CREATE TRIGGER item_log AFTER INSERT ON item BEGIN
            INSERT INTO log VALUES ('added; ' || new.label);
        END;
        INSERT INTO item VALUES (1, 'one'), (2, 'two; with a semicolon');
        SELECT id, label FROM item ORDER BY id;
        SELECT 'ignored' AS second;
        UPDATE item SET label = 'changed' WHERE id = 1;
    """
    outcome = connector.run_script(at("fleet/a.db"), None, script, timeout_seconds=TIMEOUT)
    result = outcome.first_result_set
    assert result is not None
    assert [(c.name, c.type) for c in result.columns] == [
        ("id", CanonicalType.INTEGER),
        ("label", CanonicalType.TEXT),
    ]
    assert result.rows == [(1, "one"), (2, "two; with a semicolon")]
    with sqlite3.connect(root / "fleet" / "a.db") as check:
        assert check.execute("SELECT label FROM item WHERE id = 1").fetchall() == [("changed",)]
        assert check.execute("SELECT msg FROM log ORDER BY msg").fetchall() == [
            ("added; one",),
            ("added; two; with a semicolon",),
        ]


def test_infers_types_from_values(connector: SqliteConnector) -> None:
    script = """
        CREATE TABLE t (i, f, mixed_num, s, b, nulls, anything);
        INSERT INTO t VALUES (1, 1.5, 1, 'x', x'00ff', NULL, 1);
        INSERT INTO t VALUES (2, 2.5, 2.5, 'y', x'01', NULL, 'text');
        INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL, x'02');
        SELECT * FROM t ORDER BY rowid;
    """
    outcome = connector.run_script(at("types.db"), None, script, timeout_seconds=TIMEOUT)
    result = outcome.first_result_set
    assert result is not None
    assert [c.type for c in result.columns] == [
        CanonicalType.INTEGER,
        CanonicalType.FLOAT,
        CanonicalType.FLOAT,
        CanonicalType.TEXT,
        CanonicalType.BINARY,
        CanonicalType.TEXT,
        CanonicalType.TEXT,
    ]
    assert result.rows == [
        (1, 1.5, 1.0, "x", b"\x00\xff", None, "1"),
        (2, 2.5, 2.5, "y", b"\x01", None, "text"),
        (None, None, None, None, None, None, "\x02"),
    ]
    assert type(result.rows[0][2]) is float


@pytest.mark.parametrize(
    "case",
    [
        ("SELEC 1", "syntax_error", 'near "SELEC": syntax error'),
        ("SELECT * FROM missing_table", "undefined_object", "no such table: missing_table"),
        ("CREATE TABLE t (a); SELECT b FROM t", "undefined_object", "no such column: b"),
    ],
)
def test_classifies_errors_with_the_library_message(
    connector: SqliteConnector, case: tuple[str, str, str]
) -> None:
    script, error_class, message = case
    with pytest.raises(ScriptError) as caught:
        connector.run_script(at("errors.db"), None, script, timeout_seconds=TIMEOUT)
    assert caught.value.error_class == error_class
    assert message in caught.value.message


@pytest.mark.parametrize("name", ["../x.db", "a/../../x.db", "", "  "])
def test_refuses_paths_that_leave_the_root(
    connector: SqliteConnector, root: Path, name: str
) -> None:
    with pytest.raises(ScriptError) as caught:
        connector.run_script(at(name), None, "CREATE TABLE t (a)", timeout_seconds=TIMEOUT)
    assert caught.value.refused
    assert caught.value.error_class == "refused"
    assert not (root.parent / "x.db").exists()


def test_refuses_absolute_paths_even_inside_the_root(
    connector: SqliteConnector, root: Path, tmp_path: Path
) -> None:
    for absolute in (tmp_path / "outside.db", root / "inside.db"):
        with pytest.raises(ScriptError) as caught:
            connector.run_script(at(str(absolute)), None, "SELECT 1", timeout_seconds=TIMEOUT)
        assert caught.value.refused
        assert "absolute" in caught.value.message
        assert not absolute.exists()


def test_refuses_symlinks_that_point_outside(
    connector: SqliteConnector, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "file_link.db").symlink_to(outside / "target.db")
    for name in ("escape/x.db", "file_link.db"):
        with pytest.raises(ScriptError) as caught:
            connector.run_script(at(name), None, "CREATE TABLE t (a)", timeout_seconds=TIMEOUT)
        assert caught.value.refused
        assert "outside the SQLite root" in caught.value.message
    assert list(outside.iterdir()) == []


def test_a_sibling_inside_the_root_works_and_parents_are_created(
    connector: SqliteConnector, root: Path
) -> None:
    (root / "inner").mkdir()
    (root / "alias").symlink_to(root / "inner", target_is_directory=True)
    connector.run_script(at("new/dir/a.db"), None, "CREATE TABLE t (a)", timeout_seconds=TIMEOUT)
    connector.run_script(at("alias/b.db"), None, "CREATE TABLE t (a)", timeout_seconds=TIMEOUT)
    connector.run_script(at("x/../c.db"), None, "CREATE TABLE t (a)", timeout_seconds=TIMEOUT)
    assert (root / "new" / "dir" / "a.db").is_file()
    assert (root / "inner" / "b.db").is_file()
    assert (root / "c.db").is_file()


def test_refuses_attach_and_vacuum_into_outside_the_root(
    connector: SqliteConnector, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "stolen.db"
    for script in (
        f"ATTACH DATABASE '{outside}' AS other",
        f"CREATE TABLE t (a); VACUUM INTO '{outside}'",
        f"ATTACH DATABASE '{root}/../stolen.db' AS other",
        f"ATTACH DATABASE '{outside}' || '' AS other",
    ):
        with pytest.raises(ScriptError) as caught:
            connector.run_script(at("main.db"), None, script, timeout_seconds=TIMEOUT)
        assert caught.value.refused, script
    assert not outside.exists()
    inside = root / "attached.db"
    outcome = connector.run_script(
        at("main.db"),
        None,
        f"ATTACH DATABASE '{inside}' AS other; CREATE TABLE other.t (a); "
        "ATTACH DATABASE ':memory:' AS scratch; SELECT name FROM other.sqlite_master",
        timeout_seconds=TIMEOUT,
    )
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows == [("t",)]


def test_the_timeout_interrupts_the_script(connector: SqliteConnector) -> None:
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    with pytest.raises(ScriptError) as caught:
        connector.run_script(at("slow.db"), None, endless, timeout_seconds=0.3)
    # The timeout a connector is given is the job's: its own class, not the server's `timeout`.
    assert caught.value.error_class == "job_timeout"
    assert caught.value.message.startswith("stopped at the job's timeout")


def test_server_version_does_not_create_a_file(connector: SqliteConnector, root: Path) -> None:
    with pytest.raises(ScriptError) as caught:
        connector.server_version(at("absent.db"), None)
    assert caught.value.error_class == "invalid_database"
    assert not (root / "absent.db").exists()
    connector.run_script(at("present.db"), None, "CREATE TABLE t (a)", timeout_seconds=TIMEOUT)
    assert connector.server_version(at("present.db"), None) == f"SQLite {sqlite3.sqlite_version}"
