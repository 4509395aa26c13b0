"""Whether a MySQL-dialect script asks the client for a file: `LOAD DATA … LOCAL INFILE` or
`LOAD XML … LOCAL INFILE` (docs/adr/0006, "Scripts that read executor files").

MariaDB Connector/ODBC 3.1 answers such a statement by reading the named file on the executor
host and sending it to the server, and has no option to stop it; so the odbc connector refuses
the script before it connects. LOAD DATA cannot be prepared (PREPARE, EXECUTE IMMEDIATE) nor
run from a stored program, so the words must stand in the script text itself, as code.

The text is lexed the way the server does: string literals ('…', "…"), quoted identifiers
(`…`, and […] under sql_mode MSSQL) are skipped, `#` and `-- ` comments run to the end of
the line, `/* … */` comments are skipped, and executable comments (`/*!…*/`, `/*!50110…*/`,
`/*M!…*/`, `/*M!100500…*/`) are code. Then LOCAL followed by INFILE, with only whitespace
and comments between them, is looked for as whole words, case-insensitively.

A script may change the server's lexing halfway (`SET sql_mode='NO_BACKSLASH_ESCAPES'`,
`ANSI_QUOTES`, `MSSQL`, or `SET NAMES gbk`, under which a backslash after a multi-byte
character is no escape), and a versioned executable comment is code on one server and a comment
on another. So the script is lexed under every such variant; where the variants do not split
it into code, strings and comments identically, or a construct is lexed differently by
different servers, the answer falls back to the raw text: LOCAL and INFILE anywhere, with only
whitespace or comment syntax between them. That may refuse a harmless script that also
mentions LOCAL INFILE in a string or comment; it never lets one through that runs it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Final

__all__ = ["contains_local_infile"]

_IDENTIFIER_CHAR = r"0-9A-Za-z_$\u0080-\U0010ffff"
# Generous on purpose: more separators only ever find more.
_GAP_CHAR = r"\s\x00-\x20\x7f"
_KEYWORDS: Final = re.compile(
    rf"(?<![{_IDENTIFIER_CHAR}])LOCAL[{_GAP_CHAR}]+INFILE(?![{_IDENTIFIER_CHAR}])", re.IGNORECASE
)
_LOCAL: Final = re.compile("local", re.IGNORECASE)
_INFILE: Final = re.compile("infile", re.IGNORECASE)
_GAP: Final = re.compile(rf"[{_GAP_CHAR}]+")
_CLOSE: Final = re.compile(r"\*/")
_NEWLINE: Final = re.compile("\n")
# The characters a token other than plain code starts with.
_SPECIAL: Final = re.compile(r"['\"`\[#/*;-]")
# A backslash-escaped string's body and its closing quote (or the end of the script).
_ESCAPED_BODY: Final = {
    quote: re.compile(rf"(?:[^{quote}\\]++|\\.)*+(?:{quote}|\\?\Z)", re.DOTALL) for quote in "'\""
}
# `/*!` or `/*M!` and the version digits after it (MariaDB reads five or six).
_EXECUTABLE_OPENER: Final = re.compile(r"/\*M?!\d*")
# Where a multi-byte client character set (gbk, big5, sjis, …) may swallow a backslash or a
# backtick into the character before it.
_MULTIBYTE_SWALLOW: Final = re.compile(r"[\u0080-\U0010ffff][\\`]")
# After `--`: a comment for these, minus minus for printable ASCII; anything else depends on
# the client character set.
_COMMENT_AFTER_DASHES: Final = frozenset(chr(code) for code in [*range(0x21), 0x7F])

_CODE, _STRING, _COMMENT = 0, 1, 2


class _Ambiguous(Exception):
    """Servers (or server settings) would lex this script differently."""


def contains_local_infile(script: str) -> bool:
    """True when some server could run `LOCAL INFILE` from `script`."""
    if not _raw_match(script):
        return False
    if _MULTIBYTE_SWALLOW.search(script):
        return True
    first: tuple[bytes, str] | None = None
    for single_escapes, double_escapes in ((True, True), (False, False), (True, False)):
        for brackets in (False, True):
            try:
                lexing = _lex(script, single_escapes, double_escapes, brackets)
            except _Ambiguous:
                return True
            if first is None:
                first = lexing
            elif lexing[0] != first[0]:
                return True  # the variants split the script differently
    assert first is not None
    return _KEYWORDS.search(first[1]) is not None


def _raw_match(script: str) -> bool:
    """LOCAL then INFILE with only whitespace or comment syntax between, however the rest of
    the script is lexed."""
    locals_ = list(_LOCAL.finditer(script))
    if not locals_ or not _INFILE.search(script):
        return False
    closes = [found.start() for found in _CLOSE.finditer(script)]
    newlines = [found.start() for found in _NEWLINE.finditer(script)]
    for local in locals_:
        reachable = _after_gaps(script, local.end(), closes, newlines)
        if any(_INFILE.match(script, position) for position in reachable):
            return True
    return False


def _after_gaps(script: str, start: int, closes: list[int], newlines: list[int]) -> set[int]:
    """Every position reachable from `start` over whitespace and comments: `*/` alone, `/*`
    to the next `*/`, an executable comment's opener alone, `#` or `--` to the next line."""
    reached: set[int] = set()
    pending = [start]
    while pending:
        position = pending.pop()
        if position in reached or position >= len(script):
            continue
        reached.add(position)
        gap = _GAP.match(script, position)
        if gap:
            pending.append(gap.end())
        if script.startswith("*/", position):
            pending.append(position + 2)
        if script.startswith("/*", position):
            index = bisect.bisect_left(closes, position + 2)
            if index < len(closes):
                pending.append(closes[index] + 2)
            opener = _EXECUTABLE_OPENER.match(script, position)
            if opener:
                pending.append(opener.end())
        if script.startswith(("#", "--"), position):
            index = bisect.bisect_left(newlines, position)
            if index < len(newlines):
                pending.append(newlines[index] + 1)
    return reached


def _lex(
    script: str, single_escapes: bool, double_escapes: bool, brackets: bool
) -> tuple[bytes, str]:
    """(the kind of every character, the script with strings as `'` and comments as spaces)
    under one variant of the server's lexer. Raises _Ambiguous."""
    length = len(script)
    kinds = bytearray(length)
    rendered = list(script)

    def mark(start: int, end: int, kind: int) -> None:
        kinds[start:end] = bytes([kind]) * (end - start)
        rendered[start:end] = ("'" if kind == _STRING else " ") * (end - start)

    # The first `*/` after the open executable comment's opener, where a server that skips
    # the comment would end it; -1 outside one.
    comment_end = -1
    position = 0
    while position < length:
        if comment_end >= 0 and position > comment_end:
            raise _Ambiguous  # a string or comment inside ran past the comment's end
        special = _SPECIAL.search(script, position)
        if special is None:
            break
        position = special.start()
        char = script[position]
        if char in "'\"`" or (brackets and char == "["):
            escapes = (char == "'" and single_escapes) or (char == '"' and double_escapes)
            end = _quoted_end(script, position, "]" if char == "[" else char, escapes)
            mark(position, end, _STRING)
            position = end
        elif char == "#" or (
            script.startswith("--", position) and _dashes_comment(script, position)
        ):
            position = _mark_to(mark, position, script.find("\n", position), length)
        elif script.startswith("/*", position):
            opener = _EXECUTABLE_OPENER.match(script, position)
            if opener is None:
                close = script.find("*/", position + 2)
                position = _mark_to(mark, position, close + 2 if close >= 0 else -1, length)
                continue
            if comment_end >= 0:
                raise _Ambiguous  # nested executable comments
            found = script.find("*/", opener.end())
            comment_end = length if found < 0 else found
            mark(position, opener.end(), _COMMENT)
            position = opener.end()
        elif comment_end >= 0 and script.startswith("*/", position):
            mark(position, position + 2, _COMMENT)
            comment_end = -1
            position += 2
        elif comment_end >= 0 and char == ";":
            # MariaDB ends the statement and forgets the open comment; a server that skipped
            # the comment never saw the semicolon.
            raise _Ambiguous
        else:
            position += 1
    if 0 <= comment_end < length:
        raise _Ambiguous  # a string or comment inside ran to the end, past the comment's end
    return bytes(kinds), "".join(rendered)


def _mark_to(mark: Callable[[int, int, int], None], start: int, end: int, length: int) -> int:
    """Marks a comment from `start` to `end` (-1: to the end of the script); where it ends."""
    end = length if end < 0 else end
    mark(start, end, _COMMENT)
    return end


def _dashes_comment(script: str, position: int) -> bool:
    """Whether `--` at `position` opens a comment: only before whitespace or a control
    character (`--x` is minus minus x)."""
    after = script[position + 2 : position + 3]
    if after == "" or after in _COMMENT_AFTER_DASHES:
        return True
    if after.isascii():
        return False
    raise _Ambiguous


def _quoted_end(script: str, start: int, closing: str, escapes: bool) -> int:
    """The position after the string or quoted identifier opened at `start` (the end of the
    script when it is never closed). A doubled quote reads as two strings in a row, which
    lexes the same."""
    if escapes:
        found = _ESCAPED_BODY[closing].match(script, start + 1)
        assert found is not None  # the pattern matches the empty string
        return found.end()
    end = script.find(closing, start + 1)
    return len(script) if end < 0 else end + 1
