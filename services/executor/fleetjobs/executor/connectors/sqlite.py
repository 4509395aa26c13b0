"""SQLite files under one root directory, through the standard library's sqlite3.

`database_name` is a path relative to the root. Everything that would reach outside the root
is refused before a file is opened: `..`, absolute paths, symlinks that resolve elsewhere,
and, while a script runs, `ATTACH` and `VACUUM INTO` naming a file outside the root.

sqlite3 executes one statement per call, so the script is split with SQLite's own notion of
a complete statement and run statement by statement in autocommit mode; the script's own
BEGIN/COMMIT still group statements as written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from fleetjobs.core.sql import CanonicalType, split_sqlite_statements
from fleetjobs.executor.connectors._base import (
    Availability,
    DatabaseAddress,
    Login,
    ScriptError,
    ScriptOutcome,
)
from fleetjobs.executor.connectors._options import checked_options
from fleetjobs.executor.connectors._support import (
    Deadline,
    build_result_set,
    refuse,
)

__all__ = ["SqliteConnector", "infer_sqlite_type", "resolve_database_path"]

# What sqlite3 reports for the empty name and ":memory:": both are fine for ATTACH, since
# they create nothing on disk.
_IN_MEMORY = {"", ":memory:"}


def resolve_database_path(root: Path, database_name: str) -> Path:
    """The file `database_name` names under `root`, symlinks resolved.

    Raises ScriptError(refused=True, error_class="refused") for an empty name, an absolute
    path, or any path that resolves outside the root (through `..` or a symlink).
    """
    if not database_name.strip():
        raise refuse("a SQLite target needs a database_name: a file path under the SQLite root")
    if "\x00" in database_name:
        raise refuse("a SQLite database_name cannot contain a NUL character")
    if PurePath(database_name).is_absolute():
        raise refuse(
            f"SQLite path {database_name!r} is absolute; "
            "database_name must be a path relative to the SQLite root"
        )
    real_root = root.resolve()
    candidate = (real_root / database_name).resolve()
    if candidate == real_root or not candidate.is_relative_to(real_root):
        raise refuse(f"SQLite path {database_name!r} resolves outside the SQLite root")
    return candidate


def infer_sqlite_type(values: Sequence[Any]) -> CanonicalType:
    """A column's canonical type from its values: SQLite's description carries no types.

    All int → INTEGER, ints and floats → FLOAT, all bytes → BINARY, all NULL → TEXT, and any
    other mixture (SQLite lets a column hold anything) → TEXT.
    """
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return CanonicalType.TEXT
    if kinds == {int}:
        return CanonicalType.INTEGER
    if kinds <= {int, float}:
        return CanonicalType.FLOAT
    if kinds == {bytes}:
        return CanonicalType.BINARY
    return CanonicalType.TEXT


class SqliteConnector:
    engine = "sqlite"

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root

    def availability(self) -> Availability:
        return Availability(
            engine=self.engine,
            driver=f"sqlite3 (SQLite {sqlite3.sqlite_version})",
            available=True,
            detail=f"root {self._root}",
        )

    def run_script(
        self, address: DatabaseAddress, login: Login | None, script: str, *, timeout_seconds: float
    ) -> ScriptOutcome:
        checked_options(self.engine, address.options)  # sqlite takes none (docs/adr/0006)
        path = resolve_database_path(self._root, address.database_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        statements = split_sqlite_statements(script)
        guard = _AttachGuard(self._root.resolve())
        try:
            # isolation_level=None: autocommit, so the script's own BEGIN/COMMIT rule. The
            # busy timeout is bounded by the script's: waiting longer for a lock is pointless.
            connection = sqlite3.connect(
                str(path), isolation_level=None, timeout=max(timeout_seconds, 0.0)
            )
        except sqlite3.Error as error:
            raise _script_error(error) from None
        try:
            connection.set_authorizer(guard)
            first = None
            deadline = Deadline(timeout_seconds, connection.interrupt)
            try:
                with deadline:
                    cursor = connection.cursor()
                    for statement in statements:
                        # interrupt() only stops a statement that is running; one that
                        # starts after the deadline is stopped here.
                        if deadline.expired:
                            raise deadline.error()
                        cursor.execute(statement)
                        if first is None and cursor.description is not None:
                            names = [column[0] for column in cursor.description]
                            rows = cursor.fetchall()
                            types = [
                                infer_sqlite_type([row[index] for row in rows])
                                for index in range(len(names))
                            ]
                            first = build_result_set(names, types, rows)
            except sqlite3.Error as error:
                if guard.refused is not None:
                    raise refuse(
                        f"ATTACH / VACUUM INTO of {guard.refused!r} refused: "
                        "it is outside the SQLite root"
                    ) from None
                if deadline.expired:
                    raise deadline.error(str(error)) from None
                raise _script_error(error) from None
            return ScriptOutcome(first_result_set=first)
        finally:
            connection.close()

    def server_version(self, address: DatabaseAddress, login: Login | None) -> str:
        checked_options(self.engine, address.options)  # sqlite takes none (docs/adr/0006)
        path = resolve_database_path(self._root, address.database_name)
        # Read-only, so that asking for a version never creates a database file.
        uri = f"file:{quote(str(path))}?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True)
        except sqlite3.Error:
            raise ScriptError(
                f"no SQLite database at {address.database_name!r}",
                error_class="invalid_database",
            ) from None
        try:
            row = connection.execute("SELECT sqlite_version()").fetchone()
        except sqlite3.Error as error:
            raise _script_error(error) from None
        finally:
            connection.close()
        return f"SQLite {row[0]}"


class _AttachGuard:
    """A sqlite3 authorizer that lets everything through except ATTACH and VACUUM INTO (both
    reported as SQLITE_ATTACH) of a file outside the root."""

    def __init__(self, real_root: Path) -> None:
        self._real_root = real_root
        self.refused: str | None = None

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        database: str | None,
        trigger: str | None,
    ) -> int:
        if action != sqlite3.SQLITE_ATTACH:
            return sqlite3.SQLITE_OK
        if arg1 is None:
            # The file name is an expression SQLite cannot show before running it.
            self.refused = "<computed file name>"
            return sqlite3.SQLITE_DENY
        if arg1 in _IN_MEMORY:
            return sqlite3.SQLITE_OK
        if arg1.startswith("file:") or not self._inside(arg1):
            self.refused = arg1
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def _inside(self, name: str) -> bool:
        # SQLite opens a relative name against the process's working directory, not the
        # root; resolving it the same way checks the file SQLite would really open.
        candidate = Path(name).resolve()
        return candidate != self._real_root and candidate.is_relative_to(self._real_root)


def _script_error(error: sqlite3.Error) -> ScriptError:
    message = str(error)
    lowered = message.lower()
    if "syntax error" in lowered or "incomplete input" in lowered:
        error_class = "syntax_error"
    elif lowered.startswith("no such "):
        error_class = "undefined_object"
    elif "unable to open database" in lowered:
        error_class = "connection_error"
    elif "not authorized" in lowered or "readonly" in lowered:
        error_class = "permission_denied"
    else:
        error_class = "other"
    return ScriptError(message, error_class=error_class)
