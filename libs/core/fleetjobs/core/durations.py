"""The longest duration fleetjobs accepts anywhere (a job timeout, a retry interval).

Bounded so that adding one to a clock (an execution's deadline, a retry's due time) can never
overflow Python's datetime, whatever was asked for; a year and a day is longer than any
administrative script should be allowed to run or wait.
"""

from __future__ import annotations

from datetime import timedelta

MAX_DURATION = timedelta(days=366)
MAX_DURATION_MS = MAX_DURATION // timedelta(milliseconds=1)
MAX_DURATION_TEXT = "366 days (31,622,400 s)"
