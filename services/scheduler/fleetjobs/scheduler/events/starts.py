"""Publishes start messages (scheduler → executor)."""

from __future__ import annotations

from nats.js import JetStreamContext

from fleetjobs.core.messaging import Names, publish
from fleetjobs.events.v1 import events_pb2


class StartPublisher:
    def __init__(self, js: JetStreamContext, names: Names) -> None:
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
