"""One connector per engine behind the small interface in `_base`.

`build_connectors` wires all five; `ConnectorRegistry` adds the lookup the executor needs.
Importing this package never imports pyodbc: without libodbc, `odbc` and `mssql` report
themselves unavailable and everything else works.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from fleetjobs.executor.connectors._base import (
    Availability,
    Column,
    Connector,
    DatabaseAddress,
    Login,
    ResultSet,
    ScriptError,
    ScriptOutcome,
)
from fleetjobs.executor.connectors._messages import (
    MAX_ERROR_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES,
    MAX_ONE_MESSAGE_BYTES,
    MessageCollector,
    bounded_text,
)
from fleetjobs.executor.connectors._sessions import (
    EndsOrphanedSessions,
    attempt_session,
    report_session,
)
from fleetjobs.executor.connectors._stopping import STOPPED, TIMED_OUT, StopSignal, attempt_stop
from fleetjobs.executor.connectors._support import refuse
from fleetjobs.executor.connectors.mssql import MssqlConnector
from fleetjobs.executor.connectors.mysql import MysqlConnector
from fleetjobs.executor.connectors.odbc import OdbcConnector
from fleetjobs.executor.connectors.postgresql import (
    DEFAULT_CONNECTION_CHECK_SECONDS,
    PostgresqlConnector,
)
from fleetjobs.executor.connectors.sqlite import SqliteConnector

__all__ = [
    "MAX_ERROR_BYTES",
    "MAX_MESSAGES",
    "MAX_MESSAGE_BYTES",
    "MAX_ONE_MESSAGE_BYTES",
    "STOPPED",
    "TIMED_OUT",
    "Availability",
    "Column",
    "Connector",
    "ConnectorRegistry",
    "DatabaseAddress",
    "EndsOrphanedSessions",
    "Login",
    "MessageCollector",
    "MssqlConnector",
    "MysqlConnector",
    "OdbcConnector",
    "PostgresqlConnector",
    "ResultSet",
    "ScriptError",
    "ScriptOutcome",
    "SqliteConnector",
    "StopSignal",
    "attempt_session",
    "attempt_stop",
    "bounded_text",
    "build_connectors",
    "report_session",
]


def build_connectors(
    sqlite_root: Path,
    *,
    postgres_connection_check_seconds: float = DEFAULT_CONNECTION_CHECK_SECONDS,
) -> dict[str, Connector]:
    """All five engines' connectors, keyed by engine name. `postgres_connection_check_seconds`:
    how often a PostgreSQL target checks, during a statement, that the executor is still
    connected (see the postgresql module)."""
    connectors: list[Connector] = [
        PostgresqlConnector(connection_check_seconds=postgres_connection_check_seconds),
        MysqlConnector(),
        SqliteConnector(sqlite_root),
        OdbcConnector(),
        MssqlConnector(),
    ]
    return {connector.engine: connector for connector in connectors}


class ConnectorRegistry(Mapping[str, Connector]):
    """Connectors by engine name, with a lookup that refuses unknown engines as a
    ScriptError instead of a KeyError."""

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = dict(connectors)

    @classmethod
    def default(cls, *, sqlite_root: Path) -> ConnectorRegistry:
        return cls(build_connectors(sqlite_root))

    def connector_for(self, engine: str) -> Connector:
        """Raises ScriptError(refused=True) for an engine no connector serves."""
        connector = self._connectors.get(engine)
        if connector is None:
            known = ", ".join(sorted(self._connectors))
            raise refuse(f"no connector for engine {engine!r} (known: {known})")
        return connector

    def availability(self) -> list[Availability]:
        """Each engine's availability, in engine-name order."""
        return [self._connectors[name].availability() for name in sorted(self._connectors)]

    def __getitem__(self, engine: str) -> Connector:
        return self._connectors[engine]

    def __iter__(self) -> Iterator[str]:
        return iter(self._connectors)

    def __len__(self) -> int:
        return len(self._connectors)
