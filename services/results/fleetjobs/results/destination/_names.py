"""Rules for the names the destination uses: table and schema names chosen by users, column
names that come from result sets, and the metadata columns fleetjobs adds."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fleetjobs.core.sql import CanonicalType
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

# Column name limits per engine; engines not listed have no practical limit.
_COLUMN_NAME_LIMITS = {"postgresql": 63, "mysql": 64, "mssql": 128}


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
    columns: Sequence[tuple[str, CanonicalType]], *, table: str, dialect: str
) -> None:
    """Refuses result-set column names the destination cannot hold. Names are otherwise kept
    as they are (spaces, quotes, any case): SQLAlchemy quotes every identifier it renders."""
    limit = _COLUMN_NAME_LIMITS.get(dialect)
    reserved = {name.casefold() for name in METADATA_COLUMNS}
    seen: dict[str, str] = {}
    for position, (name, _) in enumerate(columns, start=1):
        if not name.strip():
            raise ResultSetMismatchError(
                f"column {position} of the result set for table {table} has no name; "
                "give every column a name with AS"
            )
        if "\x00" in name:
            raise ResultSetMismatchError(
                f"column {position} of the result set for table {table} has a NUL character "
                "in its name"
            )
        if limit is not None and len(name) > limit:
            raise ResultSetMismatchError(
                f"column {name!r} of the result set for table {table} is {len(name)} "
                f"characters long; {dialect} allows at most {limit}"
            )
        if dialect == "mysql" and name != name.rstrip(" "):
            raise ResultSetMismatchError(
                f"column {name!r} of the result set for table {table} ends with a space, "
                "which MySQL and MariaDB do not allow"
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
