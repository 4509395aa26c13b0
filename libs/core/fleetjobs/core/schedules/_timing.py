"""A schedule's timing and the checks on it: one field problem per mistake, naming the field."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

FieldProblem = tuple[str, str]
"""(field name, what to fix), as a gRPC field violation carries it."""

CRON_FIELDS = 5


class IntervalUnit(enum.StrEnum):
    """SECOND, MINUTE and HOUR are fixed durations; DAY, WEEK and MONTH step the local date."""

    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


FIXED_UNIT_SECONDS = {IntervalUnit.SECOND: 1, IntervalUnit.MINUTE: 60, IntervalUnit.HOUR: 3600}

# At most about 100 years per step, so that a step can never overflow datetime.
MAX_INTERVAL_COUNT = {
    IntervalUnit.SECOND: 100 * 366 * 86_400,
    IntervalUnit.MINUTE: 100 * 366 * 1_440,
    IntervalUnit.HOUR: 100 * 366 * 24,
    IntervalUnit.DAY: 100 * 366,
    IntervalUnit.WEEK: 100 * 53,
    IntervalUnit.MONTH: 100 * 12,
}


@dataclass(frozen=True)
class Interval:
    """Every `count` `unit`s from the start time."""

    unit: IntervalUnit
    count: int


@dataclass(frozen=True)
class ScheduleTiming:
    """When a schedule fires. Exactly one kind: `one_time`, `interval` or `cron_expression`.

    `start_time` and `end_time` are aware datetimes (UTC by convention; any offset is read as
    the instant it names). `end_time` is inclusive; None means no end. `time_zone` is an IANA
    name: the zone in which DAY/WEEK/MONTH intervals step and cron expressions are read.
    """

    start_time: datetime
    end_time: datetime | None = None
    time_zone: str = "UTC"
    one_time: bool = False
    interval: Interval | None = None
    cron_expression: str | None = None

    def kinds(self) -> list[str]:
        """The names of the kinds this timing sets (exactly one when it is valid)."""
        named = [
            ("one_time", self.one_time),
            ("interval", self.interval is not None),
            ("cron_expression", self.cron_expression is not None),
        ]
        return [name for name, present in named if present]


class InvalidScheduleError(ValueError):
    """A timing with field problems was asked for its fire times."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises ZoneInfoNotFoundError or ValueError when there is none."""
    return ZoneInfo(name)


def zone_problem(name: str) -> str | None:
    """Why `name` is no IANA time zone, or None when it is one."""
    hint = "must be an IANA time zone name such as 'UTC' or 'Europe/Berlin'"
    if not name or name != name.strip():
        return hint
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"{hint}; {name!r} is not one"
    return None


def cron_problem(expression: str, start_local: datetime | None = None) -> str | None:
    """Why `expression` is no five-field cron expression that ever fires, or None.

    `start_local` (a naive local wall time) is where "ever fires" is looked for from.
    """
    fields = expression.split()
    if len(fields) != CRON_FIELDS or expression.lstrip().startswith("@"):
        return (
            "must have exactly five fields (minute hour day-of-month month day-of-week), "
            f"e.g. '0 3 * * *'; {expression!r} has {len(fields)} (no seconds field, no @macros)"
        )
    try:
        parsed = croniter(expression, start_local or datetime(2000, 1, 1))
    except CroniterError as error:
        return f"is not a valid cron expression: {error}"
    try:
        parsed.get_next(datetime)
    except (CroniterBadDateError, OverflowError):
        return "never matches a date (e.g. 30 February); fix the day-of-month or month"
    return None


def timing_problems(timing: ScheduleTiming, prefix: str = "schedule") -> list[FieldProblem]:
    """Every field problem of `timing`, in field order, each named `prefix.field`."""
    problems: list[FieldProblem] = []
    start, end = timing.start_time, timing.end_time
    start_ok = start.utcoffset() is not None
    if not start_ok:
        problems.append((f"{prefix}.start_time", "must carry a time zone (UTC)"))
    if end is not None:
        if end.utcoffset() is None:
            problems.append((f"{prefix}.end_time", "must carry a time zone (UTC)"))
        elif start_ok and end < start:
            problems.append((f"{prefix}.end_time", "must not be before start_time"))
    zone_why = zone_problem(timing.time_zone)
    if zone_why is not None:
        problems.append((f"{prefix}.time_zone", zone_why))
    kinds = timing.kinds()
    if not kinds:
        problems.append((f"{prefix}.kind", "set one of one_time, interval or cron_expression"))
    elif len(kinds) > 1:
        problems.append(
            (
                f"{prefix}.kind",
                f"set only one of one_time, interval or cron_expression, not {' and '.join(kinds)}",
            )
        )
    if timing.interval is not None:
        problems += _interval_problems(timing.interval, f"{prefix}.interval")
    if timing.cron_expression is not None:
        start_local = None
        if start_ok and zone_why is None:
            start_local = start.astimezone(zone(timing.time_zone)).replace(tzinfo=None)
        cron_why = cron_problem(timing.cron_expression, start_local)
        if cron_why is not None:
            problems.append((f"{prefix}.cron_expression", cron_why))
    return problems


def _interval_problems(interval: Interval, prefix: str) -> list[FieldProblem]:
    try:
        unit = IntervalUnit(interval.unit)
    except ValueError:
        units = ", ".join(unit.value for unit in IntervalUnit)
        return [(f"{prefix}.unit", f"must be one of {units}")]
    if interval.count < 1:
        return [
            (
                f"{prefix}.count",
                f"must be at least 1 (an interval of at least 1 second); got {interval.count}",
            )
        ]
    if interval.count > MAX_INTERVAL_COUNT[unit]:
        return [
            (
                f"{prefix}.count",
                f"must be at most {MAX_INTERVAL_COUNT[unit]:,} "
                f"for unit {unit.value} (about 100 years)",
            )
        ]
    return []


def checked(timing: ScheduleTiming) -> ScheduleTiming:
    """`timing` itself; raises InvalidScheduleError when it has field problems."""
    problems = timing_problems(timing)
    if problems:
        raise InvalidScheduleError(problems)
    return timing
