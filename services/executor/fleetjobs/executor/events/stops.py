"""StopJobExecution and the job timeout, executor side: cancel the running statements of the
execution's attempts here, and end its children that have not started.

The stop arrives as a plain NATS message to every executor; the scheduler recorded it in the
control database first, and the maintenance loop sweeps for stops a restarted or disconnected
executor did not hear.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from fleetjobs.core.db import utcnow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.messaging import Names
from fleetjobs.events.v1 import events_pb2
from fleetjobs.executor.connectors import STOPPED, TIMED_OUT
from fleetjobs.executor.db.group_commit import GroupCommit
from fleetjobs.executor.events.publisher import ExecutorPublisher
from fleetjobs.executor.events.task_runner import TaskRunner

log = logging.getLogger(__name__)


class StopHandler:
    def __init__(
        self,
        nats: Client,
        names: Names,
        *,
        writes: GroupCommit,
        runner: TaskRunner,
        publisher: ExecutorPublisher,
    ) -> None:
        self._nats = nats
        self._names = names
        self._writes = writes
        self._runner = runner
        self._publisher = publisher
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._nats.subscribe(self._names.stops, cb=self._on_stop)

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()

    async def _on_stop(self, message: Msg) -> None:
        stop = events_pb2.StopExecution.FromString(message.data)
        try:
            await self.apply(stop.job_execution_id, Lifecycle.from_proto(stop.lifecycle))
        except Exception as error:  # the sweep applies it within seconds
            log.warning("applying a stop failed", extra={"error": repr(error)})

    async def apply(self, parent_id: str, stop: Lifecycle) -> None:
        reason = TIMED_OUT if stop is Lifecycle.TIMED_OUT else STOPPED
        signals = self._runner.signals_of(parent_id)
        loop = asyncio.get_running_loop()
        for signal in signals:
            # A driver's cancel is a network call that may take seconds: off the loop.
            loop.run_in_executor(None, signal.stop, reason)
        cancelled = len(signals)
        ended = await self._writes.run(
            lambda repository: repository.end_unstarted_children(parent_id, stop, now=utcnow())
        )
        if ended or cancelled:
            log.info(
                "execution stopped",
                extra={
                    "job_execution_id": parent_id,
                    "lifecycle": stop.value,
                    "cancelled_here": cancelled,
                    "ended_unstarted": ended,
                },
            )
        self._publisher.parent_changed(parent_id)

    async def sweep(self) -> None:
        """Applies every recorded stop again: cheap, and idempotent."""
        stopping = await self._writes.run(lambda repository: repository.stopping_parents())
        for parent_id, stop in stopping:
            await self.apply(parent_id, stop)
