from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import pytest

from fleetjobs.core.sql import CanonicalType, decode_rows, encode_rows
from fleetjobs.events.v1 import events_pb2

T = CanonicalType

ALL_COLUMNS: list[tuple[str, CanonicalType]] = [
    ("b", T.BOOLEAN),
    ("i", T.INTEGER),
    ("f", T.FLOAT),
    ("d", T.DECIMAL),
    ("t", T.TEXT),
    ("bin", T.BINARY),
    ("day", T.DATE),
    ("tod", T.TIME),
    ("ts", T.TIMESTAMP),
]

UTC_TS = dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.UTC)


def roundtrip(columns: list[tuple[str, CanonicalType]], rows: list[tuple[Any, ...]]) -> Any:
    encoded = encode_rows(columns, rows)
    # Through the wire format too, not just the in-memory messages.
    wire = [events_pb2.Row.FromString(r.SerializeToString()) for r in encoded]
    return decode_rows(columns, wire)


def test_every_type_round_trips_exactly() -> None:
    rows = [
        (
            True,
            -(2**63),
            1.5,
            decimal.Decimal("12345678901234567890.1234567890"),
            "héllo\n'\"",
            b"\x00\xff",
            dt.date(1, 1, 1),
            dt.time(23, 59, 59, 999999),
            UTC_TS,
        ),
        (
            False,
            2**63 - 1,
            -0.0,
            decimal.Decimal("-0.00"),
            "",
            b"",
            dt.date(9999, 12, 31),
            dt.time(0, 0),
            dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        ),
        (None,) * 9,
    ]
    assert roundtrip(ALL_COLUMNS, rows) == rows
    # Trailing zeros of a decimal survive (Decimal equality alone would not show it).
    assert str(roundtrip(ALL_COLUMNS, rows)[1][3]) == "-0.00"


def test_null_cells_are_null_whatever_the_type() -> None:
    [row] = encode_rows(ALL_COLUMNS, [(None,) * 9])
    assert all(cell.WhichOneof("value") == "null" for cell in row.cells)


def test_special_floats() -> None:
    [(nan,), (inf,), (ninf,)] = roundtrip(
        [("f", T.FLOAT)], [(math.nan,), (math.inf,), (-math.inf,)]
    )
    assert math.isnan(nan)
    assert inf == math.inf
    assert ninf == -math.inf


def test_timestamps_are_carried_in_utc() -> None:
    naive = dt.datetime(2024, 5, 6, 7, 8, 9, 10)
    cest = dt.timezone(dt.timedelta(hours=2))
    aware = dt.datetime(2024, 5, 6, 9, 8, 9, 10, tzinfo=cest)
    [(a,), (b,)] = roundtrip([("ts", T.TIMESTAMP)], [(naive,), (aware,)])
    assert a == b == naive.replace(tzinfo=dt.UTC)
    assert a.tzinfo is dt.UTC
    assert a.microsecond == 10


def test_binary_like_values_and_mysql_booleans() -> None:
    rows = [(bytearray(b"ab"), 1), (memoryview(b"cd"), 0)]
    assert roundtrip([("x", T.BINARY), ("y", T.BOOLEAN)], rows) == [
        (b"ab", True),
        (b"cd", False),
    ]


def test_time_with_offset_and_type_names_as_strings() -> None:
    tod = dt.time(12, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    columns: list[tuple[str, Any]] = [("tod", "time")]
    assert roundtrip(columns, [(tod,)]) == [(tod,)]


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        (T.INTEGER, 2**63, "64-bit"),
        (T.INTEGER, "1", "expected int"),
        (T.TEXT, 5, "expected str"),
        (T.DATE, dt.datetime(2024, 1, 1), "expected datetime.date"),
        (T.BOOLEAN, 2, "expected bool"),
        (T.TIMESTAMP, dt.date(2024, 1, 1), "expected datetime.datetime"),
    ],
)
def test_wrong_values_name_the_column(kind: CanonicalType, value: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        encode_rows([("col", kind)], [(value,)])
    assert "column 'col'" in str(info.value)


def test_row_length_is_checked() -> None:
    with pytest.raises(ValueError, match="2 values but the result set has 1 columns"):
        encode_rows([("a", T.INTEGER)], [(1, 2)])
    with pytest.raises(ValueError, match="0 cells"):
        decode_rows([("a", T.INTEGER)], [events_pb2.Row()])


def test_decode_rejects_a_cell_of_the_wrong_kind() -> None:
    row = events_pb2.Row(cells=[events_pb2.Cell(text_value="7")])
    with pytest.raises(ValueError, match="expected int_value, got text_value"):
        decode_rows([("a", T.INTEGER)], [row])


def test_unset_cell_decodes_as_null() -> None:
    row = events_pb2.Row(cells=[events_pb2.Cell()])
    assert decode_rows([("a", T.INTEGER)], [row]) == [(None,)]
