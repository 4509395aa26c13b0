"""Python values ↔ protobuf `Cell`s, driven by each column's canonical type.

The executor encodes a result set's rows with `encode_rows` before publishing them, and the
results service decodes them with `decode_rows` before writing the destination table. The
canonical type, not the Python type of the value, picks the cell field, so both sides agree
on the representation whatever the driver returned (decimal, date and time travel as ISO text
because no protobuf scalar holds them exactly).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fleetjobs.core.sql._types import CanonicalType
from fleetjobs.events.v1 import events_pb2

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class _WrongValueError(Exception):
    """A value that cannot be carried as its column's canonical type (no column name yet)."""


def _wrong(expected: str, value: Any) -> _WrongValueError:
    return _WrongValueError(f"expected {expected}, got {type(value).__name__}")


def _encode_boolean(value: Any) -> events_pb2.Cell:
    # MySQL reports BOOLEAN columns as TINYINT(1), so 0 / 1 are accepted as well.
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return events_pb2.Cell(bool_value=bool(value))
    raise _wrong("bool", value)


def _encode_integer(value: Any) -> events_pb2.Cell:
    if not isinstance(value, int):
        raise _wrong("int", value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _WrongValueError(f"{value} does not fit a 64-bit signed integer")
    return events_pb2.Cell(int_value=int(value))


def _encode_float(value: Any) -> events_pb2.Cell:
    if isinstance(value, float | int | decimal.Decimal):
        return events_pb2.Cell(float_value=float(value))
    raise _wrong("float", value)


def _encode_decimal(value: Any) -> events_pb2.Cell:
    if isinstance(value, decimal.Decimal):
        # str() of a Decimal is exact and round-trips through Decimal(), trailing zeros too.
        return events_pb2.Cell(text_value=str(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return events_pb2.Cell(text_value=str(value))
    if isinstance(value, float):
        # repr() is the shortest text that reads back as the same double.
        return events_pb2.Cell(text_value=str(decimal.Decimal(repr(value))))
    raise _wrong("decimal.Decimal", value)


def _encode_text(value: Any) -> events_pb2.Cell:
    if isinstance(value, str):
        return events_pb2.Cell(text_value=value)
    raise _wrong("str", value)


def _encode_binary(value: Any) -> events_pb2.Cell:
    if isinstance(value, bytes | bytearray | memoryview):
        return events_pb2.Cell(bytes_value=bytes(value))
    raise _wrong("bytes", value)


def _encode_date(value: Any) -> events_pb2.Cell:
    # A datetime is a date subclass; silently dropping its time part would lose data.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return events_pb2.Cell(text_value=value.isoformat())
    raise _wrong("datetime.date", value)


def _encode_time(value: Any) -> events_pb2.Cell:
    if isinstance(value, dt.time):
        return events_pb2.Cell(text_value=value.isoformat())
    raise _wrong("datetime.time", value)


def _encode_timestamp(value: Any) -> events_pb2.Cell:
    if not isinstance(value, dt.datetime):
        raise _wrong("datetime.datetime", value)
    utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    cell = events_pb2.Cell()
    cell.timestamp_value.FromDatetime(utc)
    return cell


_ENCODERS: dict[CanonicalType, Callable[[Any], events_pb2.Cell]] = {
    CanonicalType.BOOLEAN: _encode_boolean,
    CanonicalType.INTEGER: _encode_integer,
    CanonicalType.FLOAT: _encode_float,
    CanonicalType.DECIMAL: _encode_decimal,
    CanonicalType.TEXT: _encode_text,
    CanonicalType.BINARY: _encode_binary,
    CanonicalType.DATE: _encode_date,
    CanonicalType.TIME: _encode_time,
    CanonicalType.TIMESTAMP: _encode_timestamp,
}

# Which cell field each canonical type is carried in, and how to read it back.
_DECODERS: dict[CanonicalType, tuple[str, Callable[[events_pb2.Cell], Any]]] = {
    CanonicalType.BOOLEAN: ("bool_value", lambda c: c.bool_value),
    CanonicalType.INTEGER: ("int_value", lambda c: c.int_value),
    CanonicalType.FLOAT: ("float_value", lambda c: c.float_value),
    CanonicalType.DECIMAL: ("text_value", lambda c: decimal.Decimal(c.text_value)),
    CanonicalType.TEXT: ("text_value", lambda c: c.text_value),
    CanonicalType.BINARY: ("bytes_value", lambda c: c.bytes_value),
    CanonicalType.DATE: ("text_value", lambda c: dt.date.fromisoformat(c.text_value)),
    CanonicalType.TIME: ("text_value", lambda c: dt.time.fromisoformat(c.text_value)),
    CanonicalType.TIMESTAMP: (
        "timestamp_value",
        lambda c: c.timestamp_value.ToDatetime(tzinfo=dt.UTC),
    ),
}

_NULL = events_pb2.Cell(null=True)


def _canonical(columns: Sequence[tuple[str, CanonicalType | str]]) -> list[CanonicalType]:
    # Callers holding `Column.type` strings from a proto can pass them as they are; an unknown
    # type name raises ValueError here instead of mis-encoding a value.
    return [CanonicalType(kind) for _, kind in columns]


def encode_rows(
    columns: Sequence[tuple[str, CanonicalType]], rows: Iterable[Sequence[Any]]
) -> list[events_pb2.Row]:
    """Encodes rows of Python values as `Row`s of `Cell`s, one cell per column.

    None becomes a null cell whatever the column's type. Timestamps are carried in UTC; a
    naive datetime is taken as UTC. Raises ValueError naming the row and column when a value
    does not suit its column's canonical type or a row has the wrong number of values.
    """
    kinds = _canonical(columns)
    encoders = [_ENCODERS[kind] for kind in kinds]
    encoded: list[events_pb2.Row] = []
    for row_number, row in enumerate(rows, start=1):
        if len(row) != len(encoders):
            raise ValueError(
                f"row {row_number} has {len(row)} values but the result set has "
                f"{len(encoders)} columns"
            )
        cells: list[events_pb2.Cell] = []
        for (name, _), kind, encode, value in zip(columns, kinds, encoders, row, strict=True):
            if value is None:
                cells.append(_NULL)
                continue
            try:
                cells.append(encode(value))
            except (_WrongValueError, ValueError, OverflowError) as exc:
                raise ValueError(f"row {row_number}, column {name!r} ({kind}): {exc}") from exc
        encoded.append(events_pb2.Row(cells=cells))
    return encoded


def decode_rows(
    columns: Sequence[tuple[str, CanonicalType]], rows: Iterable[events_pb2.Row]
) -> list[tuple[Any, ...]]:
    """Decodes `Row`s back into tuples of Python values: bool, int, float, decimal.Decimal,
    str, bytes, datetime.date, datetime.time, timezone-aware UTC datetime.datetime, or None.

    Raises ValueError naming the row and column when a cell's field does not match its
    column's canonical type or a row has the wrong number of cells.
    """
    kinds = _canonical(columns)
    decoders = [_DECODERS[kind] for kind in kinds]
    decoded: list[tuple[Any, ...]] = []
    for row_number, row in enumerate(rows, start=1):
        if len(row.cells) != len(decoders):
            raise ValueError(
                f"row {row_number} has {len(row.cells)} cells but the result set has "
                f"{len(decoders)} columns"
            )
        values: list[Any] = []
        for (name, _), kind, (field, decode), cell in zip(
            columns, kinds, decoders, row.cells, strict=True
        ):
            which = cell.WhichOneof("value")
            # An unset oneof is what an old or careless producer sends for NULL.
            if which is None or which == "null":
                values.append(None)
                continue
            if which != field:
                raise ValueError(
                    f"row {row_number}, column {name!r} ({kind}): expected {field}, got {which}"
                )
            try:
                values.append(decode(cell))
            except (ValueError, decimal.InvalidOperation) as exc:
                raise ValueError(f"row {row_number}, column {name!r} ({kind}): {exc}") from exc
        decoded.append(tuple(values))
    return decoded
