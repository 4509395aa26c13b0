"""The one small interface every engine's connector implements.

Connectors are synchronous (the drivers are blocking); the executor runs them in a bounded
thread pool. They know nothing of NATS, gRPC or the control database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fleetjobs.core.sql import CanonicalType


@dataclass(frozen=True)
class DatabaseAddress:
    """Where one target database lives. `options` never holds a password."""

    engine: str
    server_name: str
    port: int  # 0 = the engine's default
    database_name: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Login:
    """A decrypted credential. Its repr never shows the password."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Column:
    name: str
    type: CanonicalType


@dataclass
class ResultSet:
    """The first result set a script returned. Values are plain Python values already
    normalised to the column's canonical type (int, float, bool, str, bytes,
    decimal.Decimal, datetime.date, datetime.time, datetime.datetime, or None)."""

    columns: list[Column]
    rows: list[tuple[Any, ...]]


@dataclass
class ScriptOutcome:
    first_result_set: ResultSet | None
    # Informational output: PostgreSQL NOTICE, MySQL warnings, SQL Server PRINT.
    messages: list[str] = field(default_factory=list)


class ScriptError(Exception):
    """The script or the connection failed. `message` is the database's own message (never a
    password); `error_class` is a stable, engine-independent class such as `syntax_error`,
    `undefined_object`, `permission_denied`, `division_by_zero`, `connection_error`,
    `invalid_database`, `timeout` (a statement timeout the server itself set), `job_timeout`
    (fleetjobs' own job deadline cut the script short) or `other`; README lists them all.
    `refused` marks fleetjobs' own refusals (SQLite path outside the root, no driver):
    retrying them cannot help."""

    def __init__(
        self,
        message: str,
        *,
        error_class: str = "other",
        sqlstate: str = "",
        refused: bool = False,
        messages: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.sqlstate = sqlstate
        self.refused = refused
        self.messages = list(messages)


@dataclass(frozen=True)
class Availability:
    engine: str
    driver: str  # e.g. "psycopg 3.2.1"
    available: bool
    detail: str = ""


class Connector(Protocol):
    engine: str

    def availability(self) -> Availability:
        """Whether the driver loads here; never raises."""
        ...

    def run_script(
        self, address: DatabaseAddress, login: Login | None, script: str, *, timeout_seconds: float
    ) -> ScriptOutcome:
        """Runs a whole (multi-statement) script in autocommit mode and returns the first
        result set it produced. Raises ScriptError."""
        ...

    def server_version(self, address: DatabaseAddress, login: Login | None) -> str:
        """Connects and returns the server's version string. Raises ScriptError."""
        ...
