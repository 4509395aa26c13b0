"""Fire times of schedules: each kind, the calendar and DST rules, validation, long histories.

Every instant is given explicitly; nothing reads the wall clock.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleetjobs.core.schedules import (
    Interval,
    IntervalUnit,
    InvalidScheduleError,
    ScheduleTiming,
    _fire_times,
    count_fire_times_between,
    fire_times_after,
    fire_times_between,
    iter_fire_times,
    last_fire_time_at_or_before,
    resolve_local,
    timing_problems,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TICK = timedelta(microseconds=1)


def utc(  # noqa: PLR0917 (the positional parts read like a date)
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(  # noqa: PLR0917 (the positional parts read like a date)
    tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int
) -> datetime:
    """The UTC instant of a local wall time (fold=0: the first occurrence)."""
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


def every(unit: IntervalUnit, count: int, start: datetime, **kwargs: object) -> ScheduleTiming:
    return ScheduleTiming(start_time=start, interval=Interval(unit, count), **kwargs)  # type: ignore[arg-type]


def cron(expression: str, start: datetime, time_zone: str = "UTC") -> ScheduleTiming:
    return ScheduleTiming(start_time=start, cron_expression=expression, time_zone=time_zone)


def walls(fires: list[datetime], tz: ZoneInfo) -> list[str]:
    return [fire.astimezone(tz).strftime("%Y-%m-%d %H:%M%z") for fire in fires]


# --- each kind ------------------------------------------------------------------------------


def test_one_time_fires_once_at_its_start_strictly_after() -> None:
    start = utc(2026, 5, 1, 12, 0, 0)
    timing = ScheduleTiming(start_time=start, one_time=True)
    assert fire_times_after(timing, start - TICK, 5) == [start]
    assert fire_times_after(timing, start, 5) == []
    assert fire_times_after(timing, start + timedelta(days=1), 5) == []
    assert last_fire_time_at_or_before(timing, start - TICK) is None
    assert last_fire_time_at_or_before(timing, start + timedelta(days=900)) == start
    assert count_fire_times_between(timing, start - TICK, start + timedelta(days=1)) == 1


@pytest.mark.parametrize(
    ("unit", "count", "step"),
    [
        (IntervalUnit.SECOND, 90, timedelta(seconds=90)),
        (IntervalUnit.MINUTE, 15, timedelta(minutes=15)),
        (IntervalUnit.HOUR, 2, timedelta(hours=2)),
    ],
)
def test_fixed_units_are_exact_durations_even_across_dst(
    unit: IntervalUnit, count: int, step: timedelta
) -> None:
    start = local(BERLIN, 2026, 3, 29, 0, 30)  # the spring day
    timing = every(unit, count, start, time_zone="Europe/Berlin")
    fires = fire_times_after(timing, start - TICK, 6)
    assert fires == [start + n * step for n in range(6)]
    assert all(fire.tzinfo is UTC for fire in fires)
    # Strictly after: `after` equal to a fire time skips it; between two moves to the next.
    assert fire_times_after(timing, start + step, 1) == [start + 2 * step]
    assert fire_times_after(timing, start + step + TICK, 1) == [start + 2 * step]


def test_day_week_month_keep_the_local_time_of_day() -> None:
    start = local(BERLIN, 2026, 1, 15, 9, 0)  # winter, +01:00
    day = fire_times_after(every(IntervalUnit.DAY, 2, start, time_zone="Europe/Berlin"), start, 2)
    assert walls(day, BERLIN) == ["2026-01-17 09:00+0100", "2026-01-19 09:00+0100"]
    week_start = local(BERLIN, 2026, 3, 22, 9, 0)
    week = every(IntervalUnit.WEEK, 1, week_start, time_zone="Europe/Berlin")
    assert walls(fire_times_after(week, week_start - TICK, 3), BERLIN) == [
        "2026-03-22 09:00+0100",
        "2026-03-29 09:00+0200",
        "2026-04-05 09:00+0200",
    ]
    month = every(IntervalUnit.MONTH, 3, start, time_zone="Europe/Berlin")
    assert walls(fire_times_after(month, start, 2), BERLIN) == [
        "2026-04-15 09:00+0200",
        "2026-07-15 09:00+0200",
    ]


def test_end_time_is_inclusive_and_nothing_fires_past_it() -> None:
    start = utc(2026, 1, 1)
    timing = every(IntervalUnit.HOUR, 1, start, end_time=utc(2026, 1, 1, 3))
    assert fire_times_after(timing, start - TICK, 10) == [utc(2026, 1, 1, h) for h in range(4)]
    shorter = every(IntervalUnit.HOUR, 1, start, end_time=utc(2026, 1, 1, 2, 59))
    assert len(fire_times_after(shorter, start - TICK, 10)) == 3
    assert fire_times_after(shorter, utc(2026, 1, 1, 2), 10) == []
    assert last_fire_time_at_or_before(shorter, utc(2027, 1, 1)) == utc(2026, 1, 1, 2)
    cron_ends = ScheduleTiming(
        start_time=start, end_time=utc(2026, 1, 3, 12), cron_expression="0 0 * * *"
    )
    assert fire_times_after(cron_ends, start - TICK, 10) == [utc(2026, 1, d) for d in (1, 2, 3)]


def test_cron_fires_at_or_after_start_time() -> None:
    start = utc(2026, 6, 1, 3, 0)
    timing = cron("0 3 * * *", start)
    assert fire_times_after(timing, utc(2020, 1, 1), 2) == [start, utc(2026, 6, 2, 3)]
    late = cron("0 3 * * *", start + TICK)
    assert fire_times_after(late, utc(2020, 1, 1), 1) == [utc(2026, 6, 2, 3)]


# --- month-end stepping -------------------------------------------------------------------


def test_month_steps_from_jan_31_clamp_each_month_never_cumulatively() -> None:
    start = utc(2027, 1, 31, 10, 0)
    timing = every(IntervalUnit.MONTH, 1, start)
    fires = fire_times_after(timing, start - TICK, 14)
    assert [f"{fire:%Y-%m-%d %H:%M}" for fire in fires] == [
        "2027-01-31 10:00",
        "2027-02-28 10:00",
        "2027-03-31 10:00",
        "2027-04-30 10:00",
        "2027-05-31 10:00",
        "2027-06-30 10:00",
        "2027-07-31 10:00",
        "2027-08-31 10:00",
        "2027-09-30 10:00",
        "2027-10-31 10:00",
        "2027-11-30 10:00",
        "2027-12-31 10:00",
        "2028-01-31 10:00",
        "2028-02-29 10:00",  # leap year
    ]
    # Jumping straight to the end of the series gives the same answers.
    assert fire_times_after(timing, utc(2027, 12, 31, 10), 2) == fires[12:]


def test_month_interval_of_three_from_nov_30() -> None:
    timing = every(IntervalUnit.MONTH, 3, utc(2027, 11, 30))
    fires = fire_times_after(timing, utc(2027, 11, 30), 3)
    assert fires == [utc(2028, 2, 29), utc(2028, 5, 30), utc(2028, 8, 30)]


# --- daylight saving: the local-time rule --------------------------------------------------


def test_resolve_local_moves_a_gap_to_its_end_and_takes_the_first_of_an_overlap() -> None:
    assert resolve_local(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert resolve_local(datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert resolve_local(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert resolve_local(datetime(2026, 3, 8, 2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 0)
    assert resolve_local(datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert resolve_local(datetime(2026, 7, 1, 12, 0), NEW_YORK) == utc(2026, 7, 1, 16, 0)


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        (
            "Europe/Berlin",
            (2026, 3, 27, 2, 30),
            ["2026-03-27 02:30+0100", "2026-03-28 02:30+0100", "2026-03-29 03:00+0200",
             "2026-03-30 02:30+0200"],
        ),
        (
            "Europe/Berlin",
            (2026, 10, 23, 2, 30),
            ["2026-10-23 02:30+0200", "2026-10-24 02:30+0200", "2026-10-25 02:30+0200",
             "2026-10-26 02:30+0100"],
        ),
        (
            "America/New_York",
            (2026, 3, 6, 2, 30),
            ["2026-03-06 02:30-0500", "2026-03-07 02:30-0500", "2026-03-08 03:00-0400",
             "2026-03-09 02:30-0400"],
        ),
        (
            "America/New_York",
            (2026, 10, 30, 1, 30),
            ["2026-10-30 01:30-0400", "2026-10-31 01:30-0400", "2026-11-01 01:30-0400",
             "2026-11-02 01:30-0500"],
        ),
    ],
)  # fmt: skip
def test_day_interval_across_both_dst_changes(
    zone: str, start: tuple[int, int, int, int, int], expected: list[str]
) -> None:
    tz = ZoneInfo(zone)
    start_time = local(tz, *start)
    timing = every(IntervalUnit.DAY, 1, start_time, time_zone=zone)
    fires = fire_times_after(timing, start_time - TICK, 4)
    assert walls(fires, tz) == expected
    # The ambiguous day fires once: consecutive fires are about a day apart, never an hour.
    assert all(b - a >= timedelta(hours=23) for a, b in itertools.pairwise(fires))


def test_cron_in_berlin_across_both_dst_changes_fires_once_a_day() -> None:
    spring = cron("30 2 * * *", utc(2026, 1, 1), "Europe/Berlin")
    assert walls(fire_times_after(spring, utc(2026, 3, 27), 4), BERLIN) == [
        "2026-03-27 02:30+0100",
        "2026-03-28 02:30+0100",
        "2026-03-29 03:00+0200",  # 02:30 does not exist: the gap's end, once
        "2026-03-30 02:30+0200",
    ]
    assert walls(fire_times_after(spring, utc(2026, 10, 23), 4), BERLIN) == [
        "2026-10-23 02:30+0200",
        "2026-10-24 02:30+0200",
        "2026-10-25 02:30+0200",  # the first 02:30 only (croniter alone fires both)
        "2026-10-26 02:30+0100",
    ]


def test_cron_in_new_york_across_both_dst_changes() -> None:
    timing = cron("30 1 * * *", utc(2026, 1, 1), "America/New_York")
    fires = fire_times_after(timing, utc(2026, 10, 31), 3)
    assert fires == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    gap = cron("30 2 * * *", utc(2026, 1, 1), "America/New_York")
    assert fire_times_after(gap, utc(2026, 3, 8), 1) == [utc(2026, 3, 8, 7, 0)]


def test_cron_wall_times_in_a_gap_collapse_onto_one_fire() -> None:
    timing = cron("*/30 * * * *", utc(2026, 1, 1), "Europe/Berlin")
    fires = fire_times_after(timing, utc(2026, 3, 29, 0, 0), 3)  # after 01:00 local
    # 02:00, 02:30 and 03:00 local all mean 03:00 local: one fire.
    assert walls(fires, BERLIN) == [
        "2026-03-29 01:30+0100",
        "2026-03-29 03:00+0200",
        "2026-03-29 03:30+0200",
    ]


def test_cron_repeated_hour_fires_only_the_first_occurrences() -> None:
    timing = cron("*/30 * * * *", utc(2026, 1, 1), "Europe/Berlin")
    fires = fire_times_after(timing, utc(2026, 10, 24, 23, 0), 4)  # after 01:00 CEST
    assert fires == [
        utc(2026, 10, 24, 23, 30),  # 01:30 CEST
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST; 02:00 and 02:30 CET never fire
        utc(2026, 10, 25, 2, 0),  # 03:00 CET
    ]
    # Asked from inside the second occurrence, the next fire is after the overlap.
    assert fire_times_after(timing, utc(2026, 10, 25, 1, 10), 1) == [utc(2026, 10, 25, 2, 0)]
    # The latest fire at or before 02:45 CET (its second occurrence) is 02:30 CEST.
    assert last_fire_time_at_or_before(timing, utc(2026, 10, 25, 1, 45)) == utc(2026, 10, 25, 0, 30)
    assert last_fire_time_at_or_before(timing, utc(2026, 10, 25, 2, 0)) == utc(2026, 10, 25, 2, 0)


# --- misfire helpers -----------------------------------------------------------------------


def test_between_last_and_count_for_a_downtime() -> None:
    start = utc(2026, 1, 1)
    timing = every(IntervalUnit.MINUTE, 1, start)
    down, up = utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 12, 0, 30)
    assert fire_times_between(timing, down, up, 3) == [
        utc(2026, 1, 1, 10, 1),
        utc(2026, 1, 1, 10, 2),
        utc(2026, 1, 1, 10, 3),
    ]
    assert count_fire_times_between(timing, down, up) == 120
    assert last_fire_time_at_or_before(timing, up) == utc(2026, 1, 1, 12, 0)
    assert count_fire_times_between(timing, up, down) == 0
    daily = cron("0 * * * *", start, "Europe/Berlin")
    assert count_fire_times_between(daily, down, up) == 2
    assert fire_times_between(daily, down, up, 100) == [utc(2026, 1, 1, 11), utc(2026, 1, 1, 12)]


# A seeded sweep: answers after any instant agree with walking the series from its start.
SWEEP_TIMINGS = [
    every(IntervalUnit.DAY, 1, local(BERLIN, 2025, 12, 20, 2, 30), time_zone="Europe/Berlin"),
    every(IntervalUnit.DAY, 3, local(NEW_YORK, 2025, 12, 20, 1, 30), time_zone="America/New_York"),
    every(IntervalUnit.WEEK, 2, local(BERLIN, 2025, 1, 5, 2, 15), time_zone="Europe/Berlin"),
    every(IntervalUnit.MONTH, 1, local(NEW_YORK, 2024, 1, 31, 2, 30), time_zone="America/New_York"),
    every(IntervalUnit.HOUR, 5, utc(2026, 1, 1, 0, 0, 7)),
    cron("15,45 1-3 * * *", utc(2026, 3, 1), "Europe/Berlin"),
    cron("30 1 * * 0", utc(2026, 1, 1), "America/New_York"),
]


@pytest.mark.parametrize("timing", SWEEP_TIMINGS)
def test_any_instant_agrees_with_walking_from_the_start(timing: ScheduleTiming) -> None:
    walked = fire_times_after(timing, timing.start_time - TICK, 400)
    assert walked == sorted(set(walked))
    rng = random.Random(9)
    span = (walked[-1] - timing.start_time).total_seconds()
    for _ in range(60):
        after = timing.start_time + timedelta(seconds=rng.uniform(-86_400, span - 86_400 * 60))
        expected = [fire for fire in walked if fire > after]
        assert fire_times_after(timing, after, 3) == expected[:3]
        until = after + timedelta(days=rng.uniform(0, 40))
        inside = [fire for fire in expected if fire <= until]
        assert count_fire_times_between(timing, after, until) == len(inside)
        before = [fire for fire in walked if fire <= after]
        assert last_fire_time_at_or_before(timing, after) == (before[-1] if before else None)


# --- long histories ------------------------------------------------------------------------


def test_fixed_interval_ten_years_on_is_arithmetic() -> None:
    start = utc(2026, 1, 1, 0, 0, 0)
    timing = every(IntervalUnit.SECOND, 1, start)
    after = start.replace(year=2036) + timedelta(microseconds=500)
    assert fire_times_after(timing, after, 2) == [
        utc(2036, 1, 1, 0, 0, 1),
        utc(2036, 1, 1, 0, 0, 2),
    ]
    assert (
        count_fire_times_between(timing, start, after) == 3652 * 86_400
    )  # 2028 and 2032 are leap years


@pytest.mark.parametrize(
    ("unit", "count"),
    [
        (IntervalUnit.SECOND, 1),
        (IntervalUnit.DAY, 1),
        (IntervalUnit.WEEK, 1),
        (IntervalUnit.MONTH, 1),
    ],
)
def test_calendar_lookups_far_from_the_start_do_not_walk_the_history(
    unit: IntervalUnit, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    fire = _fire_times._Series.fire

    def counted(self: _fire_times._Series, n: int) -> datetime | None:
        nonlocal calls
        calls += 1
        return fire(self, n)

    monkeypatch.setattr(_fire_times._Series, "fire", counted)
    start = local(BERLIN, 2026, 1, 31, 2, 30)
    timing = every(unit, count, start, time_zone="Europe/Berlin")
    after = utc(2126, 3, 28, 12)  # a century of steps later
    fires = fire_times_after(timing, after, 2)
    assert len(fires) == 2
    assert after < fires[0] < fires[1]
    assert calls < 10
    assert last_fire_time_at_or_before(timing, after) is not None
    assert calls < 20


# --- validation ----------------------------------------------------------------------------

START = utc(2026, 1, 1)


@pytest.mark.parametrize(
    ("timing", "field", "hint"),
    [
        (cron("61 * * * *", START), "schedule.cron_expression", "not a valid cron"),
        (cron("0 3 * *", START), "schedule.cron_expression", "five fields"),
        (cron("0 0 3 * * *", START), "schedule.cron_expression", "five fields"),
        (cron("@reboot", START), "schedule.cron_expression", "five fields"),
        (cron("@daily", START), "schedule.cron_expression", "five fields"),
        (cron("", START), "schedule.cron_expression", "five fields"),
        (cron("0 0 30 2 *", START), "schedule.cron_expression", "never matches"),
        (cron("0 3 * * *", START, "Mars/Olympus_Mons"), "schedule.time_zone", "IANA"),
        (cron("0 3 * * *", START, "../../etc/passwd"), "schedule.time_zone", "IANA"),
        (cron("0 3 * * *", START, ""), "schedule.time_zone", "IANA"),
        (every(IntervalUnit.MINUTE, 0, START), "schedule.interval.count", "at least 1"),
        (every(IntervalUnit.DAY, -2, START), "schedule.interval.count", "at least 1"),
        (every(IntervalUnit.SECOND, 0, START), "schedule.interval.count", "1 second"),
        (every(IntervalUnit.MONTH, 10**6, START), "schedule.interval.count", "at most"),
        (every("FORTNIGHT", 1, START), "schedule.interval.unit", "SECOND"),  # type: ignore[arg-type]
        (
            every(IntervalUnit.HOUR, 1, START, end_time=START - TICK),
            "schedule.end_time",
            "before start_time",
        ),
        (ScheduleTiming(start_time=START), "schedule.kind", "set one of"),
        (
            ScheduleTiming(start_time=START, one_time=True, cron_expression="0 3 * * *"),
            "schedule.kind",
            "only one",
        ),
        (
            ScheduleTiming(start_time=datetime(2026, 1, 1), one_time=True),
            "schedule.start_time",
            "time zone",
        ),
    ],
)
def test_every_problem_names_its_field(timing: ScheduleTiming, field: str, hint: str) -> None:
    problems = timing_problems(timing)
    assert [name for name, _ in problems] == [field]
    assert hint in problems[0][1]
    with pytest.raises(InvalidScheduleError) as raised:
        fire_times_after(timing, START, 1)
    assert raised.value.problems == problems


def test_valid_timings_have_no_problems_and_prefix_is_configurable() -> None:
    for timing in [*SWEEP_TIMINGS, ScheduleTiming(start_time=START, one_time=True)]:
        assert timing_problems(timing) == []
    bad = every(IntervalUnit.DAY, 0, START, end_time=START, time_zone="Nowhere")
    assert [name for name, _ in timing_problems(bad, prefix="update.schedule")] == [
        "update.schedule.time_zone",
        "update.schedule.interval.count",
    ]


def test_naive_instants_are_refused() -> None:
    timing = ScheduleTiming(start_time=START, one_time=True)
    with pytest.raises(ValueError, match="aware"):
        list(iter_fire_times(timing, datetime(2026, 1, 1)))
