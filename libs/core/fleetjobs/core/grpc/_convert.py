"""Protobuf well-known types ↔ Python values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import duration_pb2, json_format, timestamp_pb2
from google.protobuf.message import Message


def to_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def from_timestamp(value: timestamp_pb2.Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def to_duration(milliseconds: int) -> duration_pb2.Duration:
    # Not through timedelta: a value stored before durations were bounded may exceed its
    # range, and showing it must not fail.
    duration = duration_pb2.Duration()
    duration.FromMilliseconds(milliseconds)
    return duration


def duration_ms(value: duration_pb2.Duration) -> int:
    return value.seconds * 1000 + value.nanos // 1_000_000


def message_to_json(message: Message) -> dict[str, Any]:
    """A message as a JSON object for a JSON column: proto field names, every field present
    (zero values included), so the stored shape does not depend on the values."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
