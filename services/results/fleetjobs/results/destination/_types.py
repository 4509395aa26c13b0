"""Canonical types → destination column types, which existing columns accept which canonical
types, and how values are shaped for the column they are written to."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeEngine

from fleetjobs.core.sql import CanonicalType

T = CanonicalType

# Engines a destination table can live on (the drivers fleetjobs installs).
SUPPORTED_ENGINES: tuple[str, ...] = ("postgresql", "mysql", "sqlite")


def destination_type(kind: CanonicalType, dialect: str) -> TypeEngine[Any]:
    """The column type fleetjobs creates for a canonical type on a destination engine."""
    if dialect == "mysql":
        return _MYSQL[kind]()
    if dialect == "postgresql":
        return _POSTGRESQL[kind]()
    return _SQLITE[kind]()


_POSTGRESQL: dict[CanonicalType, Callable[[], TypeEngine[Any]]] = {
    T.BOOLEAN: sqltypes.Boolean,
    T.INTEGER: sqltypes.BigInteger,
    T.FLOAT: sqltypes.Double,
    # Unconstrained NUMERIC keeps every digit a source sent, whatever its scale.
    T.DECIMAL: postgresql.NUMERIC,
    T.TEXT: sqltypes.Text,
    T.BINARY: sqltypes.LargeBinary,
    T.DATE: sqltypes.Date,
    T.TIME: sqltypes.Time,
    T.TIMESTAMP: lambda: postgresql.TIMESTAMP(timezone=True),
}

_MYSQL: dict[CanonicalType, Callable[[], TypeEngine[Any]]] = {
    T.BOOLEAN: sqltypes.Boolean,  # BOOL, which MySQL stores as TINYINT(1)
    T.INTEGER: sqltypes.BigInteger,
    T.FLOAT: lambda: mysql.DOUBLE(asdecimal=False),
    # MySQL has no unconstrained DECIMAL; 28 integer and 10 fractional digits cover money and
    # measurements, and the maximum precision (65) would waste space on every row.
    T.DECIMAL: lambda: mysql.DECIMAL(precision=38, scale=10),
    # TEXT and BLOB stop at 64 KiB; a result cell can be larger.
    T.TEXT: mysql.LONGTEXT,
    T.BINARY: mysql.LONGBLOB,
    T.DATE: sqltypes.Date,
    # Without fsp=6, TIME and DATETIME drop the microseconds.
    T.TIME: lambda: mysql.TIME(fsp=6),
    T.TIMESTAMP: lambda: mysql.DATETIME(fsp=6),  # naive UTC: DATETIME has no time zone
}

_SQLITE: dict[CanonicalType, Callable[[], TypeEngine[Any]]] = {
    T.BOOLEAN: sqltypes.Boolean,
    T.INTEGER: sqltypes.BigInteger,
    T.FLOAT: sqltypes.Double,
    # A NUMERIC column in SQLite converts text to REAL and keeps 15 digits; TEXT keeps them all.
    T.DECIMAL: sqltypes.Text,
    T.TEXT: sqltypes.Text,
    T.BINARY: sqltypes.LargeBinary,
    T.DATE: sqltypes.Date,
    T.TIME: sqltypes.Time,
    T.TIMESTAMP: sqltypes.DateTime,  # stored as naive UTC text
}


def metadata_string_type(length: int, dialect: str) -> TypeEngine[Any]:
    """The type of a metadata column holding a name or an id."""
    if dialect == "mysql":
        # The usual MySQL collations compare case-insensitively, which would make two target
        # databases differing only in case (possible on PostgreSQL) replace each other's rows.
        return mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return sqltypes.String(length)


# What an existing column can hold, by the family of its reflected type. Lenient where engines
# alias types (BOOLEAN is TINYINT(1) on MySQL, an integer fits NUMERIC, decimal travels as
# text), strict where values would be refused or lose meaning (text into a number).
_ACCEPTS: dict[str, frozenset[CanonicalType]] = {
    "boolean": frozenset({T.BOOLEAN}),
    "integer": frozenset({T.INTEGER, T.BOOLEAN}),
    "float": frozenset({T.FLOAT, T.INTEGER, T.DECIMAL}),
    "numeric": frozenset({T.DECIMAL, T.INTEGER, T.FLOAT}),
    "text": frozenset({T.TEXT, T.DECIMAL, T.DATE, T.TIME}),
    "binary": frozenset({T.BINARY}),
    "date": frozenset({T.DATE}),
    "time": frozenset({T.TIME}),
    "timestamp": frozenset({T.TIMESTAMP}),
    # A SQLite column declared without a type takes any value.
    "untyped": frozenset(CanonicalType),
    "other": frozenset(),
}


def type_family(type_: TypeEngine[Any], dialect: str) -> str:
    """Sorts a reflected column type into one of the families of `_ACCEPTS`."""
    # Order matters: Boolean before Integer, Float before Numeric (Float subclasses Numeric),
    # DateTime before Date on engines whose DATETIME derives from DATE.
    if isinstance(type_, sqltypes.Boolean):
        return "boolean"
    if isinstance(type_, sqltypes.Integer):
        return "integer"
    if isinstance(type_, sqltypes.Float):
        return "float"
    if isinstance(type_, sqltypes.Numeric):
        return "numeric"
    if isinstance(type_, sqltypes.String):
        return "text"
    if isinstance(type_, sqltypes._Binary):
        return "binary"
    if isinstance(type_, sqltypes.DateTime):
        return "timestamp"
    if isinstance(type_, sqltypes.Date):
        return "date"
    if isinstance(type_, sqltypes.Time):
        return "time"
    if isinstance(type_, sqltypes.NullType) and dialect == "sqlite":
        return "untyped"
    return "other"


def accepts(family: str, kind: CanonicalType) -> bool:
    return kind in _ACCEPTS[family]


def _to_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _naive_utc(value: Any) -> Any:
    return _to_utc(value).replace(tzinfo=None) if isinstance(value, dt.datetime) else value


def _aware_utc(value: Any) -> Any:
    return _to_utc(value) if isinstance(value, dt.datetime) else value


def _as_text(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _as_postgresql_text(value: Any) -> Any:
    text = _as_text(value)
    if isinstance(text, str) and "\x00" in text:
        # Other engines' text may hold NUL; PostgreSQL's cannot, and would say so only after
        # the rows were sent.
        raise ValueError("PostgreSQL text cannot contain NUL (0x00) characters")
    return text


def _as_decimal(value: Any) -> Any:
    return decimal.Decimal(value) if isinstance(value, str) else value


def _as_bytes(value: Any) -> Any:
    return bytes(value) if isinstance(value, bytearray | memoryview) else value


def _as_int(value: Any) -> Any:
    # PostgreSQL has no implicit cast from boolean to integer.
    return int(value) if isinstance(value, bool) else value


def _as_sqlite_value(value: Any) -> Any:
    # An untyped SQLite column gets no help from SQLAlchemy, so values go in as sqlite3 takes
    # them, timestamps in the same text form SQLAlchemy's DATETIME writes.
    if isinstance(value, dt.datetime):
        return _naive_utc(value).isoformat(sep=" ")
    return _as_bytes(_as_text(value))


def _as_mysql_double(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"MySQL and MariaDB cannot store {number} in a DOUBLE column")
    return number


def _identity(value: Any) -> Any:
    return value


def coercer(
    kind: CanonicalType, family: str, type_: TypeEngine[Any], dialect: str
) -> Callable[[Any], Any]:
    """How a value of canonical type `kind` is shaped before binding it to a column of
    `type_` (already checked to accept it). None is never passed in. Raises ValueError for
    a value the column cannot hold at all."""
    if family == "timestamp":
        keeps_zone = dialect == "postgresql" and bool(getattr(type_, "timezone", False))
        return _aware_utc if keeps_zone else _naive_utc
    if family == "text":
        return _as_postgresql_text if dialect == "postgresql" else _as_text
    if family == "numeric":
        return _as_decimal
    if family == "float":
        return _as_mysql_double if dialect == "mysql" else float
    if family == "integer":
        return _as_int
    if family == "binary":
        return _as_bytes
    if family == "untyped":
        return _as_sqlite_value
    return _identity
