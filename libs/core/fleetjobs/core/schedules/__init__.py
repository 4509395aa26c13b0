"""When a schedule fires: its timing, the checks on it, and its fire times (pure; no I/O).

A ScheduleTiming has a start_time, an optional end_time, a time_zone (IANA, default UTC) and
exactly one kind. Every fire time is a UTC-aware datetime at or after start_time and at or
before end_time (both inclusive); the functions take and return instants, never the wall clock.

Kinds and their rules:

- one_time: fires once, at start_time.
- interval SECOND, MINUTE, HOUR: fixed durations. Fire n is start_time + n × count × unit,
  computed directly (the millionth fire costs what the first does); DST is irrelevant.
- interval DAY, WEEK, MONTH: step the local date in time_zone and keep start_time's local
  time of day. Fire 0 is start_time itself; fire n is start's local date + n × count days
  (× 7 for WEEK), or + n × count calendar months with the day clamped to that month's last
  day — always counted from the start, never from the previous (clamped) fire, so a Jan 31
  start gives Feb 28 (29 in leap years), Mar 31, Apr 30, ... Lookups jump to the step near the
  instant asked about instead of walking years of steps.
- cron_expression: exactly five fields (minute hour day-of-month month day-of-week), read by
  croniter in time_zone; no seconds field, no @macros (@reboot, @daily). Fires at wall times
  matching the expression at or after start_time.

The local-time rule (DAY/WEEK/MONTH and cron alike), applied to each naive local wall time:

1. it exists once: that instant;
2. it is ambiguous (a fall-back overlap): its first occurrence (fold=0), so "30 2 * * *" in
   Europe/Berlin fires once on the autumn day, at the first 02:30 (00:30 UTC); the second
   occurrences of the repeated hour's wall times never fire, even for "*/15 * * * *";
3. it does not exist (a spring-forward gap): the first local time that exists after it, which
   is the gap's end — 02:30 on Europe/Berlin's spring day fires at 03:00 local (01:00 UTC),
   not 03:30. Several wall times collapsing onto the same instant fire once.

croniter alone would fire an ambiguous time twice (both folds), so wall times are walked
naively by croniter and resolved here.

Order of effects: each function first checks the timing (InvalidScheduleError, carrying every
field problem) and that the instants it is given are aware (ValueError), then computes; none
reads the clock or keeps state, so callers pass "now" themselves.

Validation (timing_problems) returns one (field, message) pair per problem, in field order,
named as the API names them under a prefix ("schedule" by default): start_time, end_time,
time_zone, kind (the oneof: none or several set), interval.unit, interval.count,
cron_expression.
"""

from fleetjobs.core.schedules._fire_times import (
    count_fire_times_between,
    fire_times_after,
    fire_times_between,
    iter_fire_times,
    last_fire_time_at_or_before,
    resolve_local,
)
from fleetjobs.core.schedules._timing import (
    CRON_FIELDS,
    MAX_INTERVAL_COUNT,
    FieldProblem,
    Interval,
    IntervalUnit,
    InvalidScheduleError,
    ScheduleTiming,
    cron_problem,
    timing_problems,
    zone_problem,
)

__all__ = [
    "CRON_FIELDS",
    "MAX_INTERVAL_COUNT",
    "FieldProblem",
    "Interval",
    "IntervalUnit",
    "InvalidScheduleError",
    "ScheduleTiming",
    "count_fire_times_between",
    "cron_problem",
    "fire_times_after",
    "fire_times_between",
    "iter_fire_times",
    "last_fire_time_at_or_before",
    "resolve_local",
    "timing_problems",
    "zone_problem",
]
