"""Stopping a running script from outside: StopJobExecution and the job timeout.

The executor gives each attempt a StopSignal through a context variable; the connector's
Deadline (the one place a running script is cancelled, by the driver's own cancel) registers
with it while the script runs. So every connector can be stopped without a parameter of its
own, and a stop that arrives before the script starts cancels it as soon as it does.

The Deadline's own timer is the job's deadline too (the executor gives each attempt the time
left until it), so both ways the job timeout reaches a script end in `job_timeout_error`:
the error class `job_timeout`, which ends the child TIMED_OUT whatever attempts remain
(domain/policy.py), never the server's own statement timeout (`timeout`, an ordinary
failure).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence

from fleetjobs.executor.connectors._base import ScriptError
from fleetjobs.executor.domain.policy import JOB_TIMEOUT

# Why the script was stopped, worded for the attempt's message.
STOPPED = "stopped"
TIMED_OUT = "timed out"


class StopSignal:
    def __init__(self, *, job_timeout_seconds: float | None = None) -> None:
        self._lock = threading.Lock()
        self._cancels: list[Callable[[str], None]] = []
        self._cancelling = False
        self.reason: str | None = None
        # The policy's job timeout, only to word the error of an attempt it cuts short.
        self.job_timeout_seconds = job_timeout_seconds

    def stop(self, reason: str) -> None:
        """Cancels the running script. It blocks (a driver's cancel is a network call): call
        it from a thread, never from the event loop. Calling it again cancels again: a cancel
        that reached the server just before the statement began is lost, and the executor's
        sweep repeats the stop until the attempt has ended."""
        with self._lock:
            self.reason = self.reason or reason
            reason = self.reason
            if self._cancelling:
                return  # a cancel is on its way already (they can take seconds)
            self._cancelling = True
            cancels = list(self._cancels)
        try:
            for cancel in cancels:
                cancel(reason)
        finally:
            with self._lock:
                self._cancelling = False

    def register(self, cancel: Callable[[str], None]) -> None:
        with self._lock:
            reason = self.reason
            if reason is None:
                self._cancels.append(cancel)
        if reason is not None:
            cancel(reason)

    def unregister(self, cancel: Callable[[str], None]) -> None:
        with self._lock:
            if cancel in self._cancels:
                self._cancels.remove(cancel)


attempt_stop: contextvars.ContextVar[StopSignal | None] = contextvars.ContextVar(
    "fleetjobs_attempt_stop", default=None
)


def job_timeout_error(
    signal: StopSignal | None,
    attempt_seconds: float,
    detail: str = "",
    messages: Sequence[str] = (),
) -> ScriptError:
    """The attempt was cut short by fleetjobs' own job deadline (`attempt_seconds` after it
    began); `detail` is what the driver said when its statement was cancelled."""
    limit = signal.job_timeout_seconds if signal is not None else None
    if limit:
        text = f"stopped at the job's {_seconds(limit)} s timeout"
    else:
        text = f"stopped at the job's timeout, {_seconds(attempt_seconds)} s into the attempt"
    if detail:
        text = f"{text}: {detail}"
    return ScriptError(text, error_class=JOB_TIMEOUT, messages=messages)


def _seconds(value: float) -> str:
    # 2 → "2", 3.75 → "3.75", a week → "604800" (never "6.048e+05").
    return f"{value:.3f}".rstrip("0").rstrip(".")
