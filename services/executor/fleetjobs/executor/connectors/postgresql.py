"""PostgreSQL through psycopg 3.

The whole script goes to the server as one simple-protocol Query message: psycopg uses
`PQsendQuery` whenever `execute` gets no parameters (and the format is text), and the server
returns one result per statement, which `cursor.nextset()` walks. Nothing is split on the
client, so dollar-quoted bodies, `DO` blocks and `COPY … FROM` edge cases are the server's
business, as they are in psql.

A consequence worth knowing: PostgreSQL runs a multi-statement Query message as one implicit
transaction unless the script itself says `COMMIT` / `BEGIN`. A failing statement therefore
undoes the statements before it, and commands that refuse transaction blocks (`CREATE
DATABASE`, `VACUUM`, `CREATE INDEX CONCURRENTLY`) only run when they are the whole script.

A statement outlives a client that dies without cancelling it (an executor killed outright):
the server only notices at its next write, which a `pg_sleep(600)` or a long `UPDATE` does not
make. So every session asks the server (PostgreSQL 14+) to check its client every few seconds
during a query, `client_connection_check_interval`, sent as a start-up option so it costs no
round trip. Servers that refuse it at start-up (older than 14, or a pooler that passes no
start-up options) are remembered and connected to without it.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg import abc, pq
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import AdaptersMap, Loader
from psycopg.types.string import TextLoader

from fleetjobs.core.crypto import scrub
from fleetjobs.core.sql import CanonicalType
from fleetjobs.core.targets import ENGINE_OPTIONS
from fleetjobs.executor.connectors._base import (
    Availability,
    DatabaseAddress,
    Login,
    ResultSet,
    ScriptError,
    ScriptOutcome,
)
from fleetjobs.executor.connectors._messages import MessageCollector
from fleetjobs.executor.connectors._options import checked_options, require_files
from fleetjobs.executor.connectors._support import (
    Deadline,
    build_result_set,
    classify_sqlstate,
    connect_timeout,
)

__all__ = ["PostgresqlConnector", "postgres_type_to_canonical"]

DEFAULT_PORT = 5432
APPLICATION_NAME = "fleetjobs"
# The executor passes its heartbeat interval (5 s by default): a killed executor's statement
# then ends before the executor is presumed dead (FLEETJOBS_WORKER_STALE_AFTER, always longer)
# and its attempt is run again elsewhere.
DEFAULT_CONNECTION_CHECK_SECONDS = 5.0
_CONNECTION_CHECK = "client_connection_check_interval"

# Built-in type OIDs (pg_type.dat); they never change between server versions.
_OID_TYPES: dict[int, CanonicalType] = {
    16: CanonicalType.INTEGER,  # bool: MySQL and SQLite have no boolean, so a fleet agrees
    # on INTEGER and a mixed collection creates one destination column type.
    20: CanonicalType.INTEGER,  # int8
    21: CanonicalType.INTEGER,  # int2
    23: CanonicalType.INTEGER,  # int4
    26: CanonicalType.INTEGER,  # oid
    700: CanonicalType.FLOAT,  # float4
    701: CanonicalType.FLOAT,  # float8
    1700: CanonicalType.DECIMAL,  # numeric
    17: CanonicalType.BINARY,  # bytea
    1082: CanonicalType.DATE,  # date
    1083: CanonicalType.TIME,  # time
    1266: CanonicalType.TIME,  # timetz
    1114: CanonicalType.TIMESTAMP,  # timestamp
    1184: CanonicalType.TIMESTAMP,  # timestamptz
}

# The libpq keywords a target's options may set are the allow-list's (docs/adr/0006): nothing
# that moves the connection (host, hostaddr, service, passfile) or carries a password.
_PASSED_OPTIONS = tuple(
    name for name in ENGINE_OPTIONS["postgresql"].checks if name != "connect_timeout"
)

_adapters_cache: AdaptersMap | None = None


def postgres_type_to_canonical(oid: int) -> CanonicalType:
    """The canonical type of a result column of type `oid`; everything unlisted is TEXT."""
    return _OID_TYPES.get(oid, CanonicalType.TEXT)


def _adapters() -> AdaptersMap:
    """psycopg's adapters, except that every type without a canonical mapping loads as the
    text PostgreSQL sent. That keeps PostgreSQL's own spelling for json, uuid, arrays,
    intervals, ranges, inet… instead of a Python repr of psycopg's objects; types psycopg
    does not know (enums, extensions) already fall back to text."""
    global _adapters_cache  # noqa: PLW0603 - built once, read-only afterwards
    if _adapters_cache is None:
        adapters = AdaptersMap(psycopg.adapters)
        for info in psycopg.adapters.types:
            for oid in (info.oid, info.array_oid):
                if oid and oid not in _OID_TYPES:
                    adapters.register_loader(oid, TextLoader)
        for oid in _LENIENT_OIDS:
            base = psycopg.adapters.get_loader(oid, pq.Format.TEXT)
            if base is not None:
                adapters.register_loader(oid, _lenient_loader(base))
        _adapters_cache = adapters
    return _adapters_cache


# date and timestamp values Python cannot hold ('infinity', years past 9999, BC dates) make
# psycopg raise while fetching, which would fail a script that ran fine. They load as their
# text instead, and build_result_set then turns that column into TEXT.
_LENIENT_OIDS = (1082, 1114, 1184)


def _lenient_loader(base: type[abc.Loader]) -> type[Loader]:
    class LenientLoader(Loader):
        def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
            super().__init__(oid, context)
            self._inner = base(oid, context)

        def load(self, data: Buffer) -> Any:
            try:
                return self._inner.load(data)
            except psycopg.DataError:
                return bytes(data).decode()

    return LenientLoader


class PostgresqlConnector:
    engine = "postgresql"

    def __init__(
        self, *, connection_check_seconds: float = DEFAULT_CONNECTION_CHECK_SECONDS
    ) -> None:
        """`connection_check_seconds`: how often the server checks, during a query, that this
        client is still there (0 leaves the server's setting alone)."""
        self._check_ms = round(connection_check_seconds * 1000)
        if connection_check_seconds > 0:
            self._check_ms = max(self._check_ms, 1)
        # (host, port) of servers that refused the check at start-up.
        self._without_check: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def availability(self) -> Availability:
        libpq = pq.version()
        return Availability(
            engine=self.engine,
            driver=f"psycopg {psycopg.__version__}",
            available=True,
            detail=f"libpq {libpq // 10000}.{libpq % 10000} ({pq.__impl__} implementation)",
        )

    def run_script(
        self, address: DatabaseAddress, login: Login | None, script: str, *, timeout_seconds: float
    ) -> ScriptOutcome:
        secrets = _secrets(login)
        connection = self._connect(address, login)
        # Bounded as they arrive: a loop of RAISE NOTICE can send 100,000s of them.
        notices = MessageCollector(secrets=secrets)
        connection.add_notice_handler(lambda diag: notices.add(_notice_text(diag)))
        try:
            deadline = Deadline(timeout_seconds, lambda: connection.cancel_safe(timeout=5.0))
            try:
                with deadline, connection.cursor() as cursor:
                    cursor.execute(script)
                    first = _first_result_set(cursor)
            except psycopg.Error as error:
                if deadline.expired:
                    raise deadline.error(scrub(str(error), secrets), notices.messages()) from None
                raise _script_error(error, secrets, notices.messages()) from None
            return ScriptOutcome(first_result_set=first, messages=notices.messages())
        finally:
            connection.close()

    def server_version(self, address: DatabaseAddress, login: Login | None) -> str:
        connection = self._connect(address, login)
        try:
            with connection.cursor() as cursor:
                row = cursor.execute("SELECT version()").fetchone()
        except psycopg.Error as error:
            raise _script_error(error, _secrets(login), []) from None
        finally:
            connection.close()
        return str(row[0]) if row else ""

    def _connect(self, address: DatabaseAddress, login: Login | None) -> psycopg.Connection[Any]:
        params = connection_parameters(address, login)
        server = (str(params["host"] or ""), int(params["port"]))
        with self._lock:
            check = self._check_ms > 0 and server not in self._without_check
        try:
            if check:
                try:
                    return _open(_with_connection_check(params, self._check_ms))
                except psycopg.Error as error:
                    if not _refuses_connection_check(error):
                        raise
                with self._lock:
                    self._without_check.add(server)
            return _open(params)
        except psycopg.Error as error:
            # `from None`: the driver's exception would carry an unscrubbed copy of the
            # message into any traceback that gets logged.
            raise _connection_error(error, _secrets(login)) from None


def connection_parameters(address: DatabaseAddress, login: Login | None) -> dict[str, Any]:
    """The libpq keywords for a target, options checked. Raises ScriptError(refused)."""
    require_files(checked_options("postgresql", address.options), address.options)
    params: dict[str, Any] = {
        "host": address.server_name or None,
        "port": address.port or DEFAULT_PORT,
        "dbname": address.database_name or None,
        "connect_timeout": connect_timeout(address.options),
        "application_name": APPLICATION_NAME,
    }
    for key in _PASSED_OPTIONS:
        if address.options.get(key):
            params[key] = address.options[key]
    if login is not None:
        params["user"] = login.username
        params["password"] = login.password
    return params


def _with_connection_check(params: dict[str, Any], check_ms: int) -> dict[str, Any]:
    # First, so that a `-c client_connection_check_interval=…` in the target's own options,
    # which comes later, wins.
    ours = f"-c {_CONNECTION_CHECK}={check_ms}"
    options = params.get("options")
    return {**params, "options": f"{ours} {options}" if options else ours}


def _refuses_connection_check(error: psycopg.Error) -> bool:
    """Whether a failed start-up was the server refusing the check: PostgreSQL before 14
    (`unrecognized configuration parameter "client_connection_check_interval"`) or a pooler
    that takes no start-up options (PgBouncer: `unsupported startup parameter: options`)."""
    message = str(error).lower()
    return _CONNECTION_CHECK in message or "unsupported startup parameter" in message


def _open(params: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(autocommit=True, context=_adapters(), **params)


def _first_result_set(cursor: psycopg.Cursor[Any]) -> ResultSet | None:
    first: ResultSet | None = None
    while True:
        if first is None and cursor.description is not None:
            names = [column.name for column in cursor.description]
            types = [postgres_type_to_canonical(column.type_code) for column in cursor.description]
            first = build_result_set(names, types, cursor.fetchall())
        if not cursor.nextset():
            return first


def _notice_text(diag: psycopg.errors.Diagnostic) -> str:
    return f"{diag.severity_nonlocalized or diag.severity}: {diag.message_primary}"


def _secrets(login: Login | None) -> list[str]:
    return [login.password] if login is not None and login.password else []


def _script_error(error: psycopg.Error, secrets: list[str], notices: list[str]) -> ScriptError:
    sqlstate = error.sqlstate or ""
    if not sqlstate and isinstance(error, psycopg.OperationalError):
        # No SQLSTATE on an OperationalError: the connection itself broke.
        return _connection_error(error, secrets, notices)
    error_class = classify_sqlstate(sqlstate)
    if sqlstate == "57014" and "statement timeout" in (error.diag.message_primary or ""):
        # The server's own statement_timeout shares 57014 with a cancel: it is `timeout`, an
        # ordinary failure (fleetjobs' own deadline never gets here: the Deadline reports it).
        error_class = "timeout"
    return ScriptError(
        scrub(str(error), secrets),
        error_class=error_class,
        sqlstate=sqlstate,
        messages=notices,
    )


def _connection_error(
    error: psycopg.Error, secrets: list[str], notices: list[str] | None = None
) -> ScriptError:
    message = scrub(str(error), secrets)
    # libpq reports start-up failures as text only (psycopg leaves sqlstate empty), so the
    # class comes from the server's FATAL message.
    lowered = message.lower()
    if error.sqlstate:
        error_class = classify_sqlstate(error.sqlstate)
    elif "database" in lowered and "does not exist" in lowered:
        error_class = "invalid_database"
    elif (
        "password authentication failed" in lowered
        or ("role" in lowered and "does not exist" in lowered)
        or "no pg_hba.conf entry" in lowered
        or "authentication failed" in lowered
    ):
        error_class = "authentication_error"
    else:
        error_class = "connection_error"
    return ScriptError(
        message, error_class=error_class, sqlstate=error.sqlstate or "", messages=notices or ()
    )
