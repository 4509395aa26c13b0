"""Stopping a running script from outside: StopJobExecution and the job timeout.

The executor gives each attempt a StopSignal through a context variable; the connector's
Deadline (the one place a running script is cancelled, by the driver's own cancel) registers
with it while the script runs. So every connector can be stopped without a parameter of its
own, and a stop that arrives before the script starts cancels it as soon as it does.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable

# Why the script was stopped, worded for the attempt's message.
STOPPED = "stopped"
TIMED_OUT = "timed out"


class StopSignal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancels: list[Callable[[str], None]] = []
        self._cancelling = False
        self.reason: str | None = None

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
