"""Fire times: when a valid ScheduleTiming is due, as UTC datetimes. Rules in the package doc."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

from fleetjobs.core.schedules._timing import (
    FIXED_UNIT_SECONDS,
    IntervalUnit,
    ScheduleTiming,
    checked,
    zone,
)

_TICK = timedelta(microseconds=1)


def resolve_local(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the naive local wall time `wall` in `tz`.

    An ambiguous wall time (a fall-back overlap) takes its first occurrence (fold=0). A wall
    time that does not exist (a spring-forward gap) moves forward to the first local time that
    exists, the end of the gap: 02:30 in a 02:00→03:00 gap is 03:00 local, the transition's
    instant (not 03:30, which shifting by the gap's length would give).
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # In a gap: fold=1 reads the wall time with the offset after the transition, which lands
    # before it; fold=0 with the offset before, which lands after. Bisect between the two for
    # the first instant whose local time is at or past `wall`: the transition.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    while high - low > _TICK:
        middle = low + (high - low) // 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def _local_wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _add_months(start: date, months: int) -> date:
    """`start` plus `months` calendar months, the day clamped to that month's last day."""
    years, month0 = divmod(start.month - 1 + months, 12)
    year = start.year + years
    return date(year, month0 + 1, min(start.day, calendar.monthrange(year, month0 + 1)[1]))


class _Series:
    """An indexed schedule (one-time or interval): fire(n) is the nth fire time, n ≥ 0,
    computed directly from the start, never from the fire before it."""

    def __init__(self, timing: ScheduleTiming) -> None:
        self.start = timing.start_time.astimezone(UTC)
        self.tz = zone(timing.time_zone)
        self.interval = timing.interval
        local = _local_wall(self.start, self.tz)
        self.start_date, self.time_of_day = local.date(), local.time()

    def fire(self, n: int) -> datetime | None:
        """The nth fire time, or None when there is none (one-time, or past year 9999)."""
        if n == 0:
            return self.start
        if self.interval is None:
            return None
        unit, count = IntervalUnit(self.interval.unit), self.interval.count
        try:
            if unit in FIXED_UNIT_SECONDS:
                return self.start + timedelta(seconds=n * count * FIXED_UNIT_SECONDS[unit])
            if unit is IntervalUnit.MONTH:
                day = _add_months(self.start_date, n * count)
            else:
                days = count * (7 if unit is IntervalUnit.WEEK else 1)
                day = self.start_date + timedelta(days=n * days)
            return resolve_local(datetime.combine(day, self.time_of_day), self.tz)
        except (OverflowError, ValueError):
            return None

    def first_index_after(self, after: datetime) -> int:
        """The smallest n whose fire time is strictly after `after` (or is None)."""
        if after < self.start:
            return 0
        if self.interval is None:
            return 1
        unit, count = IntervalUnit(self.interval.unit), self.interval.count
        if unit in FIXED_UNIT_SECONDS:
            return (after - self.start) // timedelta(seconds=count * FIXED_UNIT_SECONDS[unit]) + 1
        # Jump to a step whose local date is a day or more before `after`'s local date: its
        # wall time is earlier, so (local → UTC never decreasing) it fires no later than
        # `after`. Then walk the two or three steps that remain.
        after_date = _local_wall(after, self.tz).date()
        if unit is IntervalUnit.MONTH:
            months = (after_date.year - self.start_date.year) * 12
            months += after_date.month - self.start_date.month
            n = max(0, months // count - 1)
        else:
            step_days = count * (7 if unit is IntervalUnit.WEEK else 1)
            n = max(0, (after_date - self.start_date).days // step_days - 1)
        while (fire := self.fire(n)) is not None and fire <= after:
            n += 1
        return n


def _cron_after(timing: ScheduleTiming, after: datetime) -> Iterator[datetime]:
    """Cron fire times at or after start_time and strictly after `after`, ascending.

    croniter walks naive local wall times (so it never sees a DST change); each is resolved
    with resolve_local. Wall times in a gap collapse onto the gap's end and the second
    occurrence of an ambiguous time is never produced, so each instant fires once.
    """
    assert timing.cron_expression is not None
    tz = zone(timing.time_zone)
    bound = max(after, timing.start_time - _TICK)  # fire times must be > bound
    # Wall times up to bound's own resolve to no later than bound, so start croniter there.
    walker = croniter(timing.cron_expression, _local_wall(bound, tz))
    last = bound
    while True:
        try:
            wall = walker.get_next(datetime)
            fire = resolve_local(wall, tz)
        except (CroniterError, OverflowError, ValueError):
            return
        if fire > last:
            last = fire
            yield fire


def _series_after(series: _Series, after: datetime) -> Iterator[datetime]:
    for n in itertools.count(series.first_index_after(after)):
        fire = series.fire(n)
        if fire is None:
            return
        yield fire


def iter_fire_times(timing: ScheduleTiming, after: datetime) -> Iterator[datetime]:
    """Every fire time strictly after `after` and not after end_time, ascending, UTC-aware.

    Raises InvalidScheduleError for a timing with field problems, ValueError for a naive
    `after`. Lazy: a schedule without end_time yields until year 9999.
    """
    _aware(after, "after")
    checked(timing)
    end = timing.end_time
    if timing.cron_expression is not None:
        fires: Iterator[datetime] = _cron_after(timing, after)
    else:
        fires = _series_after(_Series(timing), after)
    return itertools.takewhile(lambda fire: end is None or fire <= end, fires)


def fire_times_after(timing: ScheduleTiming, after: datetime, limit: int) -> list[datetime]:
    """The first `limit` fire times strictly after `after` (fewer when the schedule ends)."""
    return list(itertools.islice(iter_fire_times(timing, after), max(limit, 0)))


def fire_times_between(
    timing: ScheduleTiming, start_exclusive: datetime, end_inclusive: datetime, limit: int
) -> list[datetime]:
    """The oldest `limit` fire times in (start_exclusive, end_inclusive], ascending."""
    _aware(end_inclusive, "end_inclusive")
    fires = iter_fire_times(timing, start_exclusive)
    within = itertools.takewhile(lambda fire: fire <= end_inclusive, fires)
    return list(itertools.islice(within, max(limit, 0)))


def last_fire_time_at_or_before(timing: ScheduleTiming, instant: datetime) -> datetime | None:
    """The latest fire time at or before `instant` (and end_time), or None if none is."""
    _aware(instant, "instant")
    checked(timing)
    if timing.end_time is not None:
        instant = min(instant, timing.end_time)
    if instant < timing.start_time:
        return None
    if timing.cron_expression is None:
        series = _Series(timing)
        return series.fire(series.first_index_after(instant) - 1)
    # Walk back from past every wall time that can resolve to `instant` or earlier: its own,
    # plus, when `instant` is the second occurrence of an ambiguous time, the rest of the
    # overlap (those wall times take their first occurrence, before `instant`). Local → UTC
    # never decreases, so the first resolved time not after `instant` is the latest one.
    tz = zone(timing.time_zone)
    local = instant.astimezone(tz)
    wall = local.replace(tzinfo=None)
    first_offset = wall.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)
    overlap = max(timedelta(0), first_offset - (local.utcoffset() or timedelta(0)))
    walker = croniter(timing.cron_expression, wall + overlap + timedelta(minutes=1))
    while True:
        try:
            fire = resolve_local(walker.get_prev(datetime), tz)
        except (CroniterError, OverflowError, ValueError):
            return None
        if fire < timing.start_time:
            return None
        if fire <= instant:
            return fire


def count_fire_times_between(
    timing: ScheduleTiming, start_exclusive: datetime, end_inclusive: datetime
) -> int:
    """How many fire times lie in (start_exclusive, end_inclusive] (and not after end_time).

    Arithmetic for one-time and interval schedules; a cron schedule is walked, one croniter
    step per fire time counted.
    """
    _aware(start_exclusive, "start_exclusive")
    _aware(end_inclusive, "end_inclusive")
    checked(timing)
    if timing.end_time is not None:
        end_inclusive = min(end_inclusive, timing.end_time)
    if end_inclusive <= start_exclusive:
        return 0
    if timing.cron_expression is not None:
        fires = iter_fire_times(timing, start_exclusive)
        return sum(1 for _ in itertools.takewhile(lambda fire: fire <= end_inclusive, fires))
    series = _Series(timing)
    return max(
        0, series.first_index_after(end_inclusive) - series.first_index_after(start_exclusive)
    )


def _aware(value: datetime, name: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC)")
