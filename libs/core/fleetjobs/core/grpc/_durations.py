"""Every google.protobuf.Duration the API accepts is checked where it enters.

A Duration on the wire may hold any int64 of seconds and any int32 of nanos. Converted
unchecked, a huge one overflows Python's timedelta and datetime wherever it is added to a
clock, long after the request was accepted: so at most MAX_DURATION, never negative, nanos
in range.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import duration_pb2
from google.protobuf.message import Message

from fleetjobs.core.durations import MAX_DURATION_MS, MAX_DURATION_TEXT

_NANOS_PER_SECOND = 1_000_000_000


def duration_problem(value: duration_pb2.Duration) -> str | None:
    """Why `value` is no duration fleetjobs accepts, or None when it is one."""
    if not 0 <= value.nanos < _NANOS_PER_SECOND:
        return "nanos must be between 0 and 999,999,999 (and seconds not negative)"
    if value.seconds < 0:
        return "must not be negative"
    if value.seconds * 1000 + value.nanos // 1_000_000 > MAX_DURATION_MS:
        return f"must be at most {MAX_DURATION_TEXT}"
    return None


def duration_violations(
    message: Message, fields: Iterable[str], *, prefix: str
) -> list[tuple[str, str]]:
    """A field violation for each of `fields` that `message` sets to an unacceptable
    Duration, named `prefix.field`."""
    problems: list[tuple[str, str]] = []
    for field in fields:
        if not message.HasField(field):
            continue
        problem = duration_problem(getattr(message, field))
        if problem is not None:
            problems.append((f"{prefix}.{field}", problem))
    return problems
