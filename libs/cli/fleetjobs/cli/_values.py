"""Parsing and showing the values flags carry: durations, KEY=VALUE options, numbers.

The parsers are argparse `type=` functions: a bad value is a usage error (exit 2) that says
what would have been right.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

from google.protobuf import duration_pb2

_NANOS_PER = {
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}
# "ms" before "m", so that 100ms is milliseconds, not 100 minutes and a stray "s".
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(rf"(?:{_PART.pattern})+")
# google.protobuf.Duration covers about ±10,000 years.
_MAX_SECONDS = 315_576_000_000
_SHOWN_UNITS = ("w", "d", "h", "m", "s")
DURATION_HELP = "a duration: 100ms, 10s, 30m, 1h, 2d, 1w, or combined (1h30m)"


def parse_duration(text: str) -> duration_pb2.Duration:
    """`1h`, `30m`, `10s`, `100ms`, `2d`, `1w`, `1.5h`, `1h30m` → Duration."""
    raw = text.strip().lower()
    if not _WHOLE.fullmatch(raw):
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 100ms, 10s, 30m, 1h, 2d, "
            "1w, or combined, e.g. 1h30m"
        )
    nanos = sum(
        (Fraction(number) * _NANOS_PER[unit] for number, unit in _PART.findall(raw)), Fraction(0)
    )
    total = math.floor(nanos)
    seconds, remainder = divmod(total, 10**9)
    if seconds > _MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: longer than 10,000 years")
    return duration_pb2.Duration(seconds=seconds, nanos=remainder)


def format_duration(duration: duration_pb2.Duration) -> str:
    """The shortest spelling parse_duration reads back as the same value (`1h30m`, `100ms`)."""
    total = duration.seconds * 10**9 + duration.nanos
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts: list[str] = []
    for unit in _SHOWN_UNITS:
        count, total = divmod(total, _NANOS_PER[unit])
        if count:
            parts.append(f"{count}{unit}")
    if total:
        milliseconds = Decimal(total) / Decimal(_NANOS_PER["ms"])
        parts.append(f"{_plain(milliseconds)}ms")
    return sign + "".join(parts)


def parse_option(text: str) -> tuple[str, str]:
    """`KEY=VALUE` → (key, value); the value may be empty and may hold '='."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def options_dict(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Options as a dict; a key given twice is a usage error rather than a silent choice."""
    result: dict[str, str] = {}
    for key, value in pairs:
        if key in result:
            raise argparse.ArgumentTypeError(f"option {key!r} is given more than once")
        result[key] = value
    return result


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
