from __future__ import annotations

import sqlite3

import pytest

from fleetjobs.core.sql import split_go_batches, split_sqlite_statements
from fleetjobs.core.sql._splitting import MAX_GO_REPEAT

# ------------------------------------------------------------------------------ SQLite


def test_sqlite_splits_plain_statements() -> None:
    assert split_sqlite_statements("CREATE TABLE t(a);\nINSERT INTO t VALUES (1);\n") == [
        "CREATE TABLE t(a);",
        "INSERT INTO t VALUES (1);",
    ]


def test_sqlite_keeps_semicolons_inside_literals_identifiers_and_comments() -> None:
    script = (
        "INSERT INTO t VALUES ('a;b', \"c;d\");\n"
        "-- a comment; with a semicolon\n"
        "SELECT [x;y], `p;q` FROM t; /* block; comment */\n"
        "SELECT 'it''s; fine';"
    )
    assert split_sqlite_statements(script) == [
        "INSERT INTO t VALUES ('a;b', \"c;d\");",
        "-- a comment; with a semicolon\nSELECT [x;y], `p;q` FROM t;",
        "/* block; comment */\nSELECT 'it''s; fine';",
    ]


def test_sqlite_keeps_a_trigger_body_whole() -> None:
    trigger = (
        "CREATE TRIGGER audit AFTER INSERT ON t BEGIN\n"
        "  INSERT INTO log VALUES (new.a);\n"
        "  UPDATE counter SET n = n + 1;\n"
        "END;"
    )
    assert split_sqlite_statements(f"{trigger}\nSELECT 1;") == [trigger, "SELECT 1;"]


def test_sqlite_drops_empty_and_comment_only_pieces() -> None:
    script = ";\n  ;\n-- only a comment;\n/* and; another */ ;\nSELECT 1;;\n-- trailing"
    assert split_sqlite_statements(script) == ["SELECT 1;"]
    assert split_sqlite_statements("") == []
    assert split_sqlite_statements("   \n-- nothing\n/* at all") == []


def test_sqlite_keeps_a_last_statement_without_semicolon() -> None:
    assert split_sqlite_statements("SELECT 1;\nSELECT 2 -- done") == [
        "SELECT 1;",
        "SELECT 2 -- done",
    ]


def test_sqlite_pieces_run_one_by_one() -> None:
    script = (
        "CREATE TABLE t(a TEXT);\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO t2 VALUES (new.a || ';'); END;\n"
        "CREATE TABLE t2(b TEXT);\n"
        "INSERT INTO t VALUES ('x;y');\n"
        "SELECT b FROM t2;"
    )
    connection = sqlite3.connect(":memory:")
    cursor = connection.cursor()
    for statement in split_sqlite_statements(script):
        cursor.execute(statement)
    assert cursor.fetchall() == [("x;y;",)]


# ------------------------------------------------------------------------------ GO batches


def test_go_separates_batches_in_any_case_and_spacing() -> None:
    script = "SELECT 1\nGO\nSELECT 2\ngo\nSELECT 3\n  Go  \nSELECT 4\n\tGO\t\nSELECT 5"
    assert split_go_batches(script) == ["SELECT 1", "SELECT 2", "SELECT 3", "SELECT 4", "SELECT 5"]


def test_go_with_count_repeats_the_batch() -> None:
    assert split_go_batches("INSERT INTO t VALUES (1)\nGO 3\nSELECT 1") == [
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (1)",
        "SELECT 1",
    ]
    assert split_go_batches("PRINT 'x'\n  go 2  -- twice\n") == ["PRINT 'x'", "PRINT 'x'"]


def test_go_with_a_trailing_comment_is_a_separator() -> None:
    assert split_go_batches("SELECT 1\nGO -- end of batch one\nSELECT 2\nGO--tight") == [
        "SELECT 1",
        "SELECT 2",
    ]


def test_go_inside_other_text_is_not_a_separator() -> None:
    script = "GOTO finish\nSELECT 'GO'\nSELECT 1 GO\nGO;\nGO x\n-- GO\nfinish:\nSELECT 2"
    assert split_go_batches(script) == [script]


def test_go_is_found_by_line_even_inside_comments_and_strings() -> None:
    # sqlcmd splits on the line before any SQL parsing, so neither a block comment nor a
    # string literal protects a GO line; the server then sees two broken halves.
    assert split_go_batches("/* start\nGO\nend */") == ["/* start", "end */"]
    assert split_go_batches("SELECT 'a\nGO\nb'") == ["SELECT 'a", "b'"]


def test_empty_batches_are_dropped_and_batches_keep_their_lines() -> None:
    script = "GO\n\nGO 5\nSELECT 1\n\nSELECT 2\r\nGO\n   \nGO\n"
    assert split_go_batches(script) == ["SELECT 1\n\nSELECT 2"]
    assert split_go_batches("") == []
    assert split_go_batches("GO") == []


def test_go_counts_that_sqlcmd_refuses() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_go_batches("SELECT 1\nGO 0")
    with pytest.raises(ValueError, match="limit"):
        split_go_batches(f"SELECT 1\nGO {MAX_GO_REPEAT + 1}")
