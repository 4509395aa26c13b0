"""Durations, KEY=VALUE options and numbers: what flags accept and how values are shown."""

from __future__ import annotations

import argparse

import pytest
from google.protobuf import duration_pb2

from fleetjobs.cli._values import (
    finite_float,
    format_duration,
    options_dict,
    parse_duration,
    parse_option,
    positive_int,
)


@pytest.mark.parametrize(
    ("text", "seconds", "nanos"),
    [
        ("1h", 3600, 0),
        ("30m", 1800, 0),
        ("10s", 10, 0),
        ("100ms", 0, 100_000_000),
        ("2d", 172_800, 0),
        ("1w", 604_800, 0),
        ("1h30m", 5400, 0),
        ("1.5h", 5400, 0),
        ("1m5s", 65, 0),
        ("2500ms", 2, 500_000_000),
        ("0.5ms", 0, 500_000),
        ("0s", 0, 0),
        (" 1H ", 3600, 0),
    ],
)
def test_durations_parse(text: str, seconds: int, nanos: int) -> None:
    assert parse_duration(text) == duration_pb2.Duration(seconds=seconds, nanos=nanos)


@pytest.mark.parametrize(
    "text", ["", "5", "5x", "h", "1h 30m", "-1h", "1.h", "ms", "1hh", "10 s", "1e3s", "100000000w"]
)
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "nanos", "shown"),
    [
        (0, 0, "0s"),
        (604_800, 0, "1w"),
        (3600, 0, "1h"),
        (5400, 0, "1h30m"),
        (0, 100_000_000, "100ms"),
        (1800, 0, "30m"),
        (90061, 500_000_000, "1d1h1m1s500ms"),
        (0, 1, "0.000001ms"),
    ],
)
def test_durations_are_shown_the_way_they_are_written(seconds: int, nanos: int, shown: str) -> None:
    duration = duration_pb2.Duration(seconds=seconds, nanos=nanos)
    assert format_duration(duration) == shown
    assert parse_duration(shown) == duration


def test_options_parse_as_key_value() -> None:
    assert parse_option("sslmode=require") == ("sslmode", "require")
    assert parse_option("dsn=a=b") == ("dsn", "a=b")
    assert parse_option("empty=") == ("empty", "")
    for bad in ("novalue", "=x", " =x"):
        with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
            parse_option(bad)


def test_an_option_given_twice_is_refused() -> None:
    assert options_dict([("a", "1"), ("b", "2")]) == {"a": "1", "b": "2"}
    with pytest.raises(argparse.ArgumentTypeError, match="more than once"):
        options_dict([("a", "1"), ("a", "2")])


def test_numbers() -> None:
    assert positive_int("3") == 3
    assert finite_float("2.5") == 2.5
    for bad in ("0", "-1", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)
    for bad in ("nan", "inf", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            finite_float(bad)
