"""Rules for the names the destination uses: table and schema names chosen by users, column
names that come from result sets, and the metadata columns fleetjobs adds."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from fleetjobs.results.destination._errors import ResultSetMismatchError

JOB_EXECUTION_ID = "job_execution_id"
TARGET_ENGINE = "target_engine"
TARGET_SERVER_NAME = "target_server_name"
TARGET_DATABASE_NAME = "target_database_name"
COLLECTED_AT = "collected_at"

# The columns fleetjobs adds after the result set's own, in table order.
METADATA_COLUMNS: tuple[str, ...] = (
    JOB_EXECUTION_ID,
    TARGET_ENGINE,
    TARGET_SERVER_NAME,
    TARGET_DATABASE_NAME,
    COLLECTED_AT,
)

# PostgreSQL truncates identifiers at 63 bytes, MySQL refuses more than 64 characters; the
# smaller limit with ASCII-only names keeps a name valid on every destination engine.
MAX_IDENTIFIER_LENGTH = 63
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")

# Column name limits per engine: (most, unit). PostgreSQL counts UTF-8 bytes and silently cuts
# a longer name short (NAMEDATALEN - 1), so 40 x 'é' would become another name; MySQL and
# MariaDB count characters and refuse a longer name. SQLite has no limit; 1024 bytes keeps a
# name printable in a message and the CREATE TABLE statement small.
_COLUMN_NAME_LIMITS: dict[str, tuple[int, str]] = {
    "postgresql": (63, "bytes"),
    "mysql": (64, "characters"),
    "mssql": (128, "characters"),
    "sqlite": (1024, "bytes"),
}
# Invisible format characters that some scripts need inside words (Persian, the Indic
# scripts) and emoji sequences join with; every other format character is refused.
_JOINERS = frozenset({"\u200c", "\u200d"})


def validate_identifier(kind: str, name: str) -> str | None:
    """Checks a table or schema name (`kind` names it in the message). Returns what is wrong
    with it, or None when it is valid on PostgreSQL, MariaDB / MySQL, SQLite and SQL Server
    alike: 1 to 63 ASCII letters, digits, `_` and `$`, starting with a letter or `_`."""
    if not name:
        return f"{kind} name is empty"
    if len(name) > MAX_IDENTIFIER_LENGTH:
        return (
            f"{kind} name {name!r} is {len(name)} characters long; "
            f"at most {MAX_IDENTIFIER_LENGTH} are allowed"
        )
    if _IDENTIFIER.fullmatch(name) is None:
        return (
            f"{kind} name {name!r} may only contain ASCII letters, digits, '_' and '$', "
            "and must start with a letter or '_'"
        )
    if name.lower().startswith("sqlite_"):
        return f"{kind} name {name!r} starts with 'sqlite_', which SQLite reserves"
    return None


def check_result_columns(
    columns: Sequence[tuple[str, object]], *, table: str, dialect: str
) -> None:
    """Refuses result-set column names the destination cannot hold. Names are otherwise kept
    as they are (spaces, quotes, any case): SQLAlchemy quotes every identifier it renders."""
    reserved = {name.casefold() for name in METADATA_COLUMNS}
    seen: dict[str, str] = {}
    for position, (name, _) in enumerate(columns, start=1):
        if not name.strip():
            raise ResultSetMismatchError(
                f"column {position} of the result set for table {table} has no name; "
                "give every column a name with AS"
            )
        problem = _name_problem(name, dialect)
        if problem is not None:
            raise ResultSetMismatchError(
                f"column {name!r} of the result set for table {table} {problem}; rename it with AS"
            )
        folded = name.casefold()
        if folded in reserved:
            raise ResultSetMismatchError(
                f"column {name!r} of the result set for table {table} has the name of a "
                "column fleetjobs adds to every destination table; rename it with AS"
            )
        if folded in seen:
            # Engines compare column names case-insensitively (MySQL, SQLite, SQL Server), so
            # `a` and `A` could not both exist in the destination table.
            raise ResultSetMismatchError(
                f"the result set for table {table} has more than one column named "
                f"{seen[folded]!r} (names are compared case-insensitively); rename them with AS"
            )
        seen[folded] = name


def _name_problem(name: str, dialect: str) -> str | None:
    """What makes a column name unusable on `dialect` (completing "column … of the result set
    for table … "), or None."""
    for character in name:
        if _is_control(character):
            # A newline breaks MariaDB's SHOW CREATE TABLE for reflection; every control or
            # invisible character also makes two different names look the same.
            return f"has a control or invisible character (U+{ord(character):04X}) in its name"
    most, unit = _COLUMN_NAME_LIMITS.get(dialect, (0, ""))
    length = len(name.encode()) if unit == "bytes" else len(name)
    if most and length > most:
        encoded = " in UTF-8" if unit == "bytes" else ""
        return f"is {length} {unit} long{encoded}; {dialect} allows at most {most} {unit}"
    if dialect == "mysql":
        if name != name.rstrip(" "):
            return "ends with a space, which MySQL and MariaDB do not allow"
        beyond = next((c for c in name if ord(c) > 0xFFFF), None)
        if beyond is not None:
            # MySQL and MariaDB store identifiers in utf8mb3: three bytes at most.
            return (
                f"has a character outside Unicode's Basic Multilingual Plane "
                f"(U+{ord(beyond):04X}), which MySQL and MariaDB names cannot hold"
            )
    return None


def _is_control(character: str) -> bool:
    category = unicodedata.category(character)
    if category == "Cf":
        return character not in _JOINERS
    # Cc: C0 and C1 controls (NUL, newline, tab, …); Zl / Zp: line and paragraph separators.
    return category in {"Cc", "Zl", "Zp"}
