"""What the engine modules share: refusals, option parsing, the script deadline, value
normalisation, error classes, ODBC connection strings and the lazy pyodbc import.

Kept private: the engine modules are the only callers, and none of this is part of the
connector interface.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import importlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType, TracebackType
from typing import Any

from fleetjobs.core.sql import CanonicalType
from fleetjobs.executor.connectors._base import Column, ResultSet, ScriptError
from fleetjobs.executor.connectors._stopping import TIMED_OUT, attempt_stop, job_timeout_error

DEFAULT_CONNECT_TIMEOUT_SECONDS = 15

# --------------------------------------------------------------------------------------------
# Refusals


def refuse(message: str) -> ScriptError:
    """A fleetjobs refusal: nothing was sent to the database and retrying cannot help."""
    return ScriptError(message, error_class="refused", refused=True)


# --------------------------------------------------------------------------------------------
# Options


def connect_timeout(options: Mapping[str, str]) -> int:
    """`options["connect_timeout"]` in whole seconds, else the default."""
    raw = options.get("connect_timeout", "")
    if not raw:
        return DEFAULT_CONNECT_TIMEOUT_SECONDS
    try:
        value = int(raw)
    except ValueError:
        raise refuse(
            f"option connect_timeout must be a whole number of seconds, not {raw!r}"
        ) from None
    if value < 1:
        raise refuse("option connect_timeout must be at least 1 second")
    return value


def option_flag(options: Mapping[str, str], key: str) -> bool | None:
    """A yes/no option: None when absent."""
    raw = options.get(key)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise refuse(f"option {key} must be true or false, not {raw!r}")


# --------------------------------------------------------------------------------------------
# Deadline


class Deadline:
    """Calls `cancel` once if the script is still running after `seconds`, or as soon as the
    attempt's StopSignal fires (StopJobExecution, the job timeout).

    One deadline covers the whole script rather than each statement: that is what the task's
    timeout promises. `expired` tells the caller to report the timeout or the stop whatever
    the driver raised (or did not raise: a killed MySQL SLEEP() just returns 1); `error()`
    is that report.
    """

    def __init__(self, seconds: float, cancel: Callable[[], object]) -> None:
        self._seconds = seconds
        self._cancel = cancel
        self._expired = threading.Event()
        self._stopped: str | None = None
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._signal = attempt_stop.get()

    @property
    def expired(self) -> bool:
        return self._expired.is_set()

    def error(self, detail: str = "", messages: Sequence[str] = ()) -> ScriptError:
        # The timer is the job's deadline, as is a TIMED_OUT stop: both are `job_timeout`
        # (connectors/_stopping.py), never the server's own statement timeout.
        if self._stopped is not None and self._stopped != TIMED_OUT:
            text = f"the script was cancelled: the execution {self._stopped}"
            return ScriptError(text, error_class="canceled", messages=messages)
        return job_timeout_error(self._signal, self._seconds, detail, messages)

    def _fire(self) -> None:
        if self._expired.is_set():
            return
        self._expired.set()
        # The cancel runs on the timer thread, where an exception would only be printed: a
        # failed cancel still leaves `expired` set, and the script thread reports the timeout.
        with contextlib.suppress(Exception):
            self._cancel()

    def _stop(self, reason: str) -> None:
        self._stopped = reason
        self._expired.set()
        with contextlib.suppress(Exception):
            self._cancel()

    def __enter__(self) -> Deadline:
        if self._signal is not None and self._signal.reason is not None:
            # Stopped before it began (it waited for a server slot): do not start it at all.
            self._stopped = self._signal.reason
            raise self.error()
        self._timer.start()
        if self._signal is not None:
            self._signal.register(self._stop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        if self._signal is not None:
            self._signal.unregister(self._stop)


# --------------------------------------------------------------------------------------------
# Values


class _Mismatch(Exception):
    """A value that does not fit its column's canonical type."""


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | bytearray):
        # MySQL BIT(n) arrives as big-endian bytes.
        return int.from_bytes(value, "big")
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    raise _Mismatch


def _to_float(value: Any) -> float:
    if isinstance(value, float | int | decimal.Decimal) and not isinstance(value, bool):
        return float(value)
    raise _Mismatch


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return decimal.Decimal(value)
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    raise _Mismatch


def _to_binary(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise _Mismatch


def _to_date(value: Any) -> dt.date:
    # datetime is a date subclass; a datetime in a DATE column is a driver surprise.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise _Mismatch


def _to_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    # MySQL TIME is a duration (-838:59:59 … 838:59:59); only a time of day fits TIME.
    if isinstance(value, dt.timedelta) and dt.timedelta(0) <= value < dt.timedelta(days=1):
        return (dt.datetime.min + value).time()
    raise _Mismatch


def _to_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return value
    raise _Mismatch


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _Mismatch


def to_text(value: Any) -> str:
    """The text form of any driver value, as close to the database's own spelling as the
    Python value allows."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _duration_text(value: dt.timedelta) -> str:
    # MySQL's own spelling of a TIME outside one day: [-]HHH:MM:SS[.ffffff].
    sign = "-" if value < dt.timedelta(0) else ""
    total = abs(value)
    hours, rest = divmod(total.days * 86_400 + total.seconds, 3_600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if total.microseconds:
        text += f".{total.microseconds:06d}"
    return text


_CONVERTERS: dict[CanonicalType, Callable[[Any], Any]] = {
    CanonicalType.BOOLEAN: _to_boolean,
    CanonicalType.INTEGER: _to_integer,
    CanonicalType.FLOAT: _to_float,
    CanonicalType.DECIMAL: _to_decimal,
    CanonicalType.TEXT: to_text,
    CanonicalType.BINARY: _to_binary,
    CanonicalType.DATE: _to_date,
    CanonicalType.TIME: _to_time,
    CanonicalType.TIMESTAMP: _to_timestamp,
}


def build_result_set(
    names: Sequence[str], types: Sequence[CanonicalType], rows: Iterable[Sequence[Any]]
) -> ResultSet:
    """Normalises every value to its column's canonical type.

    A column whose values do not all fit its type (MySQL's zero date `0000-00-00`, a TIME of
    900 hours, a PostgreSQL date the driver returned as text) becomes TEXT as a whole: one
    column, one type, and no value is lost.
    """
    materialised = [list(row) for row in rows]
    final_types = list(types)
    for index, canonical in enumerate(types):
        convert = _CONVERTERS[canonical]
        try:
            for row in materialised:
                if row[index] is not None:
                    row[index] = convert(row[index])
        except _Mismatch:
            final_types[index] = CanonicalType.TEXT
            for row in materialised:
                if row[index] is not None:
                    row[index] = to_text(row[index])
    columns = [Column(name=name, type=kind) for name, kind in zip(names, final_types, strict=True)]
    return ResultSet(columns=columns, rows=[tuple(row) for row in materialised])


def python_type_to_canonical(type_code: Any) -> CanonicalType:
    """Maps a DB-API description type_code that is a Python type (pyodbc) onto CanonicalType."""
    if not isinstance(type_code, type):
        return CanonicalType.TEXT
    # bool before int (bool is an int subclass) and datetime before date, for the same reason.
    # SQL Server's bit arrives as bool; it is INTEGER for the same reason PostgreSQL's boolean
    # is: MySQL and SQLite have no boolean, so a fleet must agree on INTEGER.
    ordered: list[tuple[type, CanonicalType]] = [
        (bool, CanonicalType.INTEGER),
        (int, CanonicalType.INTEGER),
        (float, CanonicalType.FLOAT),
        (decimal.Decimal, CanonicalType.DECIMAL),
        (bytes, CanonicalType.BINARY),
        (bytearray, CanonicalType.BINARY),
        (memoryview, CanonicalType.BINARY),
        (dt.datetime, CanonicalType.TIMESTAMP),
        (dt.date, CanonicalType.DATE),
        (dt.time, CanonicalType.TIME),
    ]
    for python_type, canonical in ordered:
        if issubclass(type_code, python_type):
            return canonical
    return CanonicalType.TEXT


# --------------------------------------------------------------------------------------------
# ODBC

# Characters that make a value need braces in an ODBC connection string.
_ODBC_SPECIAL = re.compile(r"[;{}=\[\](),?*!@]")
_ODBC_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_ .-]*$")


def odbc_value(value: str, *, always_brace: bool = False) -> str:
    """One connection-string value, braced (`}` doubled) when it needs it.

    Bracing is not applied to every value because psqlODBC only strips braces from PWD (and
    a couple of free-text settings): `SERVER={db1}` makes it look for a host named `{db1}`.
    Values that carry a delimiter still have to be braced; drivers that strip braces
    everywhere (SQL Server's, MariaDB's) are fine either way.
    """
    if always_brace or _ODBC_SPECIAL.search(value) or value != value.strip() or not value:
        return "{" + value.replace("}", "}}") + "}"
    return value


def odbc_connection_string(pairs: Sequence[tuple[str, str]], *, secret_keys: Iterable[str]) -> str:
    """`KEY=value;…` with each value escaped. Secret values are always braced, so a password
    is never split at a `;` and psqlODBC never URL-decodes it (it does for unbraced PWD)."""
    secret = {key.upper() for key in secret_keys}
    parts: list[str] = []
    for key, value in pairs:
        if not _ODBC_KEY.match(key):
            raise refuse(f"{key!r} is not a valid ODBC connection-string keyword")
        parts.append(f"{key}={odbc_value(value, always_brace=key.upper() in secret)}")
    return ";".join(parts)


_PYODBC_LOCK = threading.Lock()
_PYODBC: ModuleType | None = None
_PYODBC_ERROR = ""


def load_pyodbc() -> tuple[ModuleType | None, str]:
    """Imports pyodbc on first use: without libodbc the import fails, and that must only make
    the ODBC engines unavailable, never break the executor's import."""
    global _PYODBC, _PYODBC_ERROR  # noqa: PLW0603 - one process-wide import attempt
    with _PYODBC_LOCK:
        if _PYODBC is None and not _PYODBC_ERROR:
            try:
                _PYODBC = importlib.import_module("pyodbc")
            except ImportError as error:
                _PYODBC_ERROR = f"pyodbc cannot be imported: {error}"
        return _PYODBC, _PYODBC_ERROR


def odbc_messages(cursor: Any) -> list[str]:
    """The informational messages pyodbc gathered for the last call: PRINT, NOTICE, …"""
    collected: list[str] = []
    for entry in getattr(cursor, "messages", None) or ():
        text = entry[1] if isinstance(entry, tuple) and len(entry) > 1 else entry
        collected.append(str(text))
    return collected


# --------------------------------------------------------------------------------------------
# Error classes

_SQLSTATE_CLASSES: dict[str, str] = {
    "42601": "syntax_error",
    "42P01": "undefined_object",
    "42703": "undefined_object",
    "42883": "undefined_object",
    "42704": "undefined_object",
    "42501": "permission_denied",
    "22012": "division_by_zero",
    "3D000": "invalid_database",
    "57014": "canceled",
    # ODBC's own SQLSTATEs, as psqlODBC, MariaDB Connector/ODBC and SQL Server's driver
    # report them.
    "42S02": "undefined_object",
    "42S22": "undefined_object",
    "HYT00": "timeout",
    "HYT01": "timeout",
    "HY008": "canceled",
}


def classify_sqlstate(sqlstate: str) -> str:
    """PostgreSQL's SQLSTATEs (which psqlODBC passes through) and ODBC's own."""
    code = sqlstate.upper()
    if code in _SQLSTATE_CLASSES:
        return _SQLSTATE_CLASSES[code]
    if code.startswith("08"):
        return "connection_error"
    if code.startswith("28"):
        return "authentication_error"
    return "other"


_MYSQL_ERRNO_CLASSES: dict[int, str] = {
    1064: "syntax_error",
    1146: "undefined_object",
    1054: "undefined_object",
    1305: "undefined_object",
    1142: "permission_denied",
    1143: "permission_denied",
    1044: "permission_denied",
    1227: "permission_denied",
    1365: "division_by_zero",
    1049: "invalid_database",
    1045: "authentication_error",
    # MariaDB's "access denied" when the account authenticates by unix socket only.
    1698: "authentication_error",
    2003: "connection_error",
    2005: "connection_error",
    2006: "connection_error",
    2013: "connection_error",
    1317: "canceled",
    # MariaDB: "Query execution was interrupted (max_statement_time exceeded)".
    1969: "timeout",
}


def classify_mysql_errno(errno: int) -> str:
    if errno in _MYSQL_ERRNO_CLASSES:
        return _MYSQL_ERRNO_CLASSES[errno]
    # 2000-2999 are the client library's own errors (CR_*): failing to connect, a lost or
    # refused TLS handshake, a broken socket.
    if 2000 <= errno < 3000:
        return "connection_error"
    return "other"
