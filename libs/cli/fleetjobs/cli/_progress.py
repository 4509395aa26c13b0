"""Drawing an execution's progress from WatchJobExecution messages.

On a terminal one line is redrawn in place, e.g.
`[#########.....] 37/50 succeeded 2 failed 1 retrying  4.2s`, with a child's failure printed
above it as it happens; elsewhere (a log, CI) a line is printed when the counts or the
lifecycle change, at most one a second for counts, so a fleet of thousands does not flood the
log. Either way stdout stays free for the command's result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

from google.protobuf import timestamp_pb2

from fleetjobs.cli._output import clip, lifecycle
from fleetjobs.v1 import execution_resources_pb2 as execution_resources
from fleetjobs.v1 import execution_service_pb2 as execution_service

L = execution_resources.Lifecycle
TERMINAL = frozenset(
    {
        L.LIFECYCLE_SUCCEEDED,
        L.LIFECYCLE_SUCCEEDED_WITH_SKIPPED,
        L.LIFECYCLE_FAILED,
        L.LIFECYCLE_TIMED_OUT,
        L.LIFECYCLE_CANCELED,
        L.LIFECYCLE_SKIPPED,
    }
)
SUCCESSFUL = frozenset({L.LIFECYCLE_SUCCEEDED, L.LIFECYCLE_SUCCEEDED_WITH_SKIPPED})
# Child lifecycles worth a line of their own while the bar runs.
_REPORTED = frozenset({L.LIFECYCLE_FAILED, L.LIFECYCLE_TIMED_OUT, L.LIFECYCLE_CANCELED})
# Shown after "N/M succeeded" when not zero, in this order.
_EXTRA_COUNTS = (
    ("LIFECYCLE_FAILED", "failed"),
    ("LIFECYCLE_TIMED_OUT", "timed out"),
    ("LIFECYCLE_CANCELED", "canceled"),
    ("LIFECYCLE_SKIPPED", "skipped"),
    ("LIFECYCLE_WAITING_FOR_RETRY", "retrying"),
    ("LIFECYCLE_IN_PROGRESS", "running"),
)
_DONE_COUNTS = (
    "LIFECYCLE_SUCCEEDED",
    "LIFECYCLE_FAILED",
    "LIFECYCLE_TIMED_OUT",
    "LIFECYCLE_CANCELED",
    "LIFECYCLE_SKIPPED",
)
_CLEAR_LINE = "\r\x1b[K"


def is_terminal(execution: execution_resources.JobExecution) -> bool:
    return execution.lifecycle in TERMINAL


def progress_line(
    execution: execution_resources.JobExecution, *, elapsed: float | None, width: int = 20
) -> str:
    """`[#########.....] 37/50 succeeded 2 failed 1 retrying  4.2s` (time when known)."""
    counts: Mapping[str, int] = execution.counts
    total = sum(counts.values())
    if total:
        done = sum(counts.get(name, 0) for name in _DONE_COUNTS)
        filled = min(width, done * width // total)
        bar = "#" * filled + "." * (width - filled)
        text = f"[{bar}] {counts.get('LIFECYCLE_SUCCEEDED', 0)}/{total} succeeded"
        text += "".join(
            f" {counts[name]} {label}" for name, label in _EXTRA_COUNTS if counts.get(name)
        )
    else:
        # Not expanded into children yet, or a child watched on its own.
        text = f"[{'.' * width}] {lifecycle(execution.lifecycle).lower().replace('_', ' ')}"
        if execution.attempts:
            text += f", attempt {execution.attempts}"
    if elapsed is not None:
        text += f"  {format_elapsed(elapsed)}"
    return text


def format_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{second:02d}s"
    hours, minute = divmod(minutes, 60)
    return f"{hours}h{minute:02d}m"


def child_line(child: execution_resources.JobExecution) -> str:
    where = "/".join(part for part in (child.server_name, child.database_name) if part)
    text = f"  {lifecycle(child.lifecycle)}  {where or child.job_execution_id}"
    if child.engine:
        text += f" ({child.engine})"
    if child.message:
        text += f": {clip(child.message, 160)}"
    return text


class ProgressRenderer:
    """Turns WatchJobExecution messages into progress on `stream`.

    `live` redraws one line in place (a terminal). Otherwise a line is printed per change: a
    new lifecycle at once, new counts when `min_interval` seconds have passed since the last
    line (tick() prints one held back). `clock` is the wall clock in seconds. At most
    `max_reported` failed children get a line of their own.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool,
        clock: Callable[[], float] = time.time,
        min_interval: float = 1.0,
        max_reported: int = 20,
    ) -> None:
        self._stream = stream
        self._live = live
        self._clock = clock
        self._min_interval = min_interval
        self._max_reported = max_reported
        self._lock = threading.Lock()
        self._last: execution_resources.JobExecution | None = None
        self._started_watching = clock()
        self._shown = ""
        self._shown_lifecycle: execution_resources.Lifecycle.ValueType | None = None
        self._shown_at = float("-inf")
        self._reported = 0
        self._drawn = False

    @property
    def last(self) -> execution_resources.JobExecution | None:
        """The execution as of the latest message."""
        return self._last

    def update(self, message: execution_service.WatchJobExecutionResponse) -> None:
        with self._lock:
            self._last = message.job_execution
            # The first message lists every child: report only those already in trouble.
            for child in message.changed_children:
                if child.lifecycle in _REPORTED:
                    self._report(child)
            self._draw()

    def tick(self) -> None:
        """Move a live line's clock, or print a change held back, while no message comes."""
        with self._lock:
            if self._last is not None:
                self._draw()

    def close(self) -> None:
        """End the live line so what follows starts on a line of its own."""
        with self._lock:
            if self._live and self._drawn:
                self._stream.write("\n")
                self._stream.flush()
                self._drawn = False

    def _elapsed(self) -> float:
        assert self._last is not None
        execution = self._last
        start = execution.start_time if execution.HasField("start_time") else None
        if start is None and execution.HasField("create_time"):
            start = execution.create_time
        if start is None:
            return max(0.0, self._clock() - self._started_watching)
        end = (
            _seconds(execution.end_time)
            if execution.HasField("end_time") and is_terminal(execution)
            else self._clock()
        )
        return max(0.0, end - _seconds(start))

    def _draw(self) -> None:
        assert self._last is not None
        if self._live:
            line = progress_line(self._last, elapsed=self._elapsed())
            self._stream.write(_CLEAR_LINE + line)
            self._stream.flush()
            self._drawn = True
            return
        # A line per change; the moving clock alone is not a change.
        key = progress_line(self._last, elapsed=None)
        state = self._last.lifecycle
        if key == self._shown and state == self._shown_lifecycle:
            return
        now = self._clock()
        if state == self._shown_lifecycle and now - self._shown_at < self._min_interval:
            return  # held back; a later message or tick() shows it
        self._shown, self._shown_lifecycle, self._shown_at = key, state, now
        line = progress_line(self._last, elapsed=self._elapsed())
        self._stream.write(f"{lifecycle(state)} {line}\n")
        self._stream.flush()

    def _report(self, child: execution_resources.JobExecution) -> None:
        self._reported += 1
        if self._reported <= self._max_reported:
            self._print_above(child_line(child))
        elif self._reported == self._max_reported + 1:
            parent_id = child.parent_job_execution_id or "ID"
            self._print_above(
                f"  (further failures are not shown: `fleetjobs execution show {parent_id} "
                "--children` lists every database)"
            )

    def _print_above(self, text: str) -> None:
        if self._live and self._drawn:
            self._stream.write(_CLEAR_LINE)
            self._drawn = False
        self._stream.write(text + "\n")
        self._stream.flush()


@contextmanager
def ticking(renderer: ProgressRenderer, interval: float = 0.5) -> Iterator[None]:
    """Call renderer.tick() every `interval` seconds from a daemon thread while inside."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            renderer.tick()

    thread = threading.Thread(target=run, name="fleetjobs-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _seconds(value: timestamp_pb2.Timestamp) -> float:
    return value.seconds + value.nanos / 1e9
