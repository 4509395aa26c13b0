"""Splitting scripts into the pieces a driver can send one at a time.

Only two engines need it: Python's sqlite3 refuses more than one statement per `execute`, and
SQL Server scripts are written for sqlcmd, whose `GO` is a client-side batch separator the
server has never heard of. PostgreSQL and MySQL receive the whole script at once.
"""

from __future__ import annotations

import re
import sqlite3

__all__ = ["MAX_GO_REPEAT", "split_go_batches", "split_sqlite_statements"]

# `GO n` is expanded into n copies of the batch; a bound keeps a typo such as `GO 100000000`
# from building a list that exhausts the executor's memory before anything is sent.
MAX_GO_REPEAT = 10_000

# sqlcmd's rule: the line holds GO and nothing else but whitespace, an optional repeat count
# and an optional trailing `--` comment. Anything else on the line (`GOTO x`, `SELECT 'GO'`,
# `GO;`) makes it ordinary SQL.
_GO_LINE = re.compile(r"^\s*go(?:\s+(\d+))?\s*(?:--.*)?$", re.IGNORECASE)


def split_sqlite_statements(script: str) -> list[str]:
    """Splits a SQLite script into single statements, in order.

    SQLite itself decides where a statement ends (`sqlite3.complete_statement`), so semicolons
    inside string literals, quoted identifiers, comments and trigger bodies (`BEGIN … END;`)
    never split. Pieces holding only whitespace, comments or semicolons are dropped. A last
    statement without its semicolon is kept.
    """
    statements: list[str] = []
    start = 0
    # complete_statement is only asked at semicolons: a statement can end nowhere else.
    for index, char in enumerate(script):
        if char != ";":
            continue
        piece = script[start : index + 1]
        if sqlite3.complete_statement(piece):
            _keep(statements, piece)
            start = index + 1
    _keep(statements, script[start:])
    return statements


def split_go_batches(script: str) -> list[str]:
    """Splits a SQL Server script into batches exactly where sqlcmd would.

    The split is line-based, as in sqlcmd: a line consisting only of `GO` (any case, any
    surrounding whitespace, an optional trailing `-- comment`) ends the batch, and `GO n`
    sends it n times. sqlcmd does not look inside block comments or string literals when it
    looks for `GO`, so neither does this. Batches holding only whitespace are dropped, and
    repeating an empty batch repeats nothing.

    Raises ValueError for `GO 0` (sqlcmd refuses it too) and for counts above MAX_GO_REPEAT.
    """
    batches: list[str] = []
    current: list[str] = []
    for line_number, line in enumerate(script.splitlines(), start=1):
        match = _GO_LINE.match(line)
        if match is None:
            current.append(line)
            continue
        count = _repeat_count(match.group(1), line_number)
        batch = "\n".join(current)
        current = []
        if batch.strip():
            batches.extend([batch] * count)
    tail = "\n".join(current)
    if tail.strip():
        batches.append(tail)
    return batches


def _repeat_count(text: str | None, line_number: int) -> int:
    if text is None:
        return 1
    count = int(text)
    if count < 1:
        raise ValueError(f"line {line_number}: GO needs a positive repeat count, not {text}")
    if count > MAX_GO_REPEAT:
        raise ValueError(
            f"line {line_number}: GO repeat count {count} is above the limit of {MAX_GO_REPEAT}"
        )
    return count


def _keep(statements: list[str], piece: str) -> None:
    stripped = piece.strip()
    if not _is_blank_sql(stripped):
        statements.append(stripped)


def _is_blank_sql(text: str) -> bool:
    """True when text holds nothing SQLite would execute: whitespace, comments, semicolons."""
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char.isspace() or char == ";":
            index += 1
        elif text.startswith("--", index):
            newline = text.find("\n", index)
            index = length if newline < 0 else newline + 1
        elif text.startswith("/*", index):
            # SQLite accepts an unterminated block comment at the end of input.
            end = text.find("*/", index + 2)
            index = length if end < 0 else end + 2
        else:
            return False
    return True
