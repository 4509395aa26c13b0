"""What the scheduler tells the executors: start an execution (a JetStream work queue, so
exactly one executor expands it) and stop one (plain NATS fan-out, so every executor running
one of its attempts hears it)."""

from __future__ import annotations

from nats.aio.client import Client
from nats.js import JetStreamContext

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.messaging import Names, publish
from fleetjobs.events.v1 import events_pb2


class CommandPublisher:
    def __init__(self, nats: Client, js: JetStreamContext, names: Names) -> None:
        self._nats = nats
        self._js = js
        self._names = names

    async def publish_start(self, job_execution_id: str, job_name: str) -> None:
        await publish(
            self._js,
            self._names.starts,
            events_pb2.StartExecution(job_execution_id=job_execution_id, job_name=job_name),
            # One start per execution: a republish by the reconciler inside the duplicate
            # window is dropped by the stream; a later one is harmless (expansion is
            # idempotent).
            msg_id=f"start:{job_execution_id}",
        )

    async def publish_stop(self, job_execution_id: str, lifecycle: Lifecycle) -> None:
        # Fire and forget: the stop is in the control database already, and the executors
        # sweep for stops they did not hear.
        await self._nats.publish(
            self._names.stops,
            events_pb2.StopExecution(
                job_execution_id=job_execution_id, lifecycle=lifecycle.to_proto()
            ).SerializeToString(),
        )
