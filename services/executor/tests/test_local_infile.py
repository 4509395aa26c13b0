"""`contains_local_infile`: every spelling a MariaDB or MySQL server would run is found, and a
mention the server would not run (in a string, an identifier or a comment) is not
(docs/adr/0006, "Scripts that read executor files")."""

from __future__ import annotations

import pytest

from fleetjobs.executor.connectors._local_infile import contains_local_infile

LOAD = " '/etc/hostname' INTO TABLE t"


@pytest.mark.parametrize(
    "script",
    [
        "LOAD DATA LOCAL INFILE" + LOAD,
        "load data local infile" + LOAD,
        "LoAd DaTa LoCaL  InFiLe" + LOAD,
        "LOAD DATA LOW_PRIORITY LOCAL INFILE" + LOAD,
        "LOAD DATA CONCURRENT LOCAL INFILE" + LOAD,
        "LOAD XML LOCAL INFILE '/etc/hostname' INTO TABLE t ROWS IDENTIFIED BY '<r>'",
        "LOAD DATA LOCAL\n\tINFILE" + LOAD,
        "LOAD DATA LOCAL\r\n\x0b\x0cINFILE" + LOAD,
        "LOAD DATA LOCAL/**/INFILE" + LOAD,
        "LOAD DATA LOCAL/* a comment */INFILE" + LOAD,
        "LOAD DATA LOCAL/*!INFILE*/" + LOAD,
        "LOAD DATA /*!LOCAL*/ INFILE" + LOAD,
        "LOAD DATA /*!50110LOCAL*/ INFILE" + LOAD,
        "LOAD DATA /*!50110 LOCAL INFILE */" + LOAD,
        "LOAD DATA /*M!LOCAL INFILE*/" + LOAD,
        "LOAD DATA /*M!100500 LOCAL INFILE*/" + LOAD,
        "/*!LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t */",
        "LOAD DATA LOCAL # a comment\nINFILE" + LOAD,
        "LOAD DATA LOCAL -- a comment\nINFILE" + LOAD,
        "LOAD DATA LOCAL --\ta comment\nINFILE" + LOAD,
        "LOAD DATA LOCAL --\x7fa comment\nINFILE" + LOAD,
        # Statements after others, strings and comments that close properly.
        "SELECT 'a;b', `c``d`, \"e\"; -- LOCAL INFILE only here\nLOAD DATA LOCAL INFILE" + LOAD,
        "SELECT 'it''s'; LOAD DATA LOCAL INFILE" + LOAD,
        "SELECT 1 /* LOCAL INFILE */; LOAD DATA LOCAL INFILE" + LOAD,
        "SELECT 'a\\\\'; LOAD DATA LOCAL INFILE" + LOAD,
        # `--x` is minus minus x, not a comment: what follows on the line is code.
        "SELECT 1 --1\n; LOAD DATA LOCAL INFILE" + LOAD,
        "SELECT 1--1; LOAD DATA LOCAL INFILE" + LOAD,
        # A string the backslash escapes with backslash escapes, and ends without them.
        "SET sql_mode='NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; LOAD DATA LOCAL INFILE" + LOAD,
        # ANSI_QUOTES: a double-quoted identifier knows no backslash escape.
        "SET sql_mode='ANSI_QUOTES'; SELECT \"a\\\"; LOAD DATA LOCAL INFILE" + LOAD + '; -- "',
        # sql_mode MSSQL quotes identifiers in brackets: no string starts inside them.
        "SET sql_mode='MSSQL'; SELECT 1 AS [']; LOAD DATA LOCAL INFILE" + LOAD + "; -- '",
        # Backslash escapes for one statement, none for the next (a mixed lexing neither
        # uniform one sees).
        "SELECT 'a\\';' ; SET sql_mode='NO_BACKSLASH_ESCAPES'; "
        "SELECT '\\'; LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t; -- '",
        # Under SET NAMES gbk a backslash after a multi-byte character is part of it.
        "SET NAMES gbk; SELECT '中\\\\'; LOAD DATA LOCAL INFILE" + LOAD + "; -- '",
        # A server that skips a versioned comment as too new runs what follows it.
        "SELECT 1 /*!99999 ' */; LOAD DATA LOCAL INFILE" + LOAD + "; -- '",
        "SELECT 1 /*M! -- */; LOAD DATA LOCAL INFILE" + LOAD + "\n*/",
        "SELECT 1 /*!99999 /* */; LOAD DATA LOCAL INFILE" + LOAD + " */",
        # Unterminated at the end.
        "LOAD DATA LOCAL INFILE" + LOAD + " /* unterminated",
        "LOAD DATA LOCAL INFILE '/etc/hostname",
        "LOAD DATA /*!LOCAL INFILE '/etc/hostname' INTO TABLE t",
    ],
)
def test_finds_what_a_server_would_run(script: str) -> None:
    assert contains_local_infile(script)


@pytest.mark.parametrize(
    "script",
    [
        "",
        "SELECT 1",
        "LOAD DATA INFILE" + LOAD,
        "LOAD DATA INFILE '/srv/local infile.csv' INTO TABLE t",
        "SELECT 'LOAD DATA LOCAL INFILE'",
        'SELECT "LOAD DATA LOCAL INFILE"',
        "SELECT 1 AS `LOCAL INFILE`",
        "SELECT 'it''s LOCAL INFILE'",
        "SELECT 1 -- LOAD DATA LOCAL INFILE",
        "SELECT 1 --\tLOAD DATA LOCAL INFILE\n",
        "SELECT 1 # LOAD DATA LOCAL INFILE\nSELECT 2",
        "SELECT 1 /* LOAD DATA LOCAL INFILE */",
        "SELECT 1 /*+ LOCAL INFILE */",
        "SELECT 1 /* LOCAL INFILE",
        "SELECT 'LOCAL INFILE",
        "SHOW VARIABLES LIKE 'local_infile'",
        "SET GLOBAL local_infile = 0",
        "SELECT local_infile, localinfile FROM t",
        "SELECT 1 FROM localx INFILE",
        "SELECT 1 FROM LOCAL INFILEX",
        "SELECT 1 FROM xLOCAL INFILE",
        "SELECT 1 /*!40101 + 1 */, 'LOCAL INFILE'",
        "SELECT '\\\\LOCAL INFILE'",
    ],
)
def test_lets_a_mention_the_server_would_not_run_through(script: str) -> None:
    assert not contains_local_infile(script)


def test_a_large_script_without_the_words_is_quick() -> None:
    script = "INSERT INTO t VALUES ('local', 'infile', '\\'');\n" * 20_000
    assert not contains_local_infile(script)
    assert contains_local_infile(script + "LOAD DATA LOCAL INFILE" + LOAD)
