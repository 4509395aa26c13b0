"""What the executor publishes: tasks, child events for the scheduler, result batches."""

from __future__ import annotations

import asyncio
import logging
import uuid

from nats.js import JetStreamContext

from fleetjobs.core.db.models import ChildExecutionRow
from fleetjobs.core.messaging import Names, publish
from fleetjobs.events.v1 import events_pb2

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.02


class ExecutorPublisher:
    def __init__(self, js: JetStreamContext, names: Names) -> None:
        self._js = js
        self._names = names
        self._changed: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None

    async def task(self, child: ChildExecutionRow, *, salt: str = "") -> None:
        """`salt` lets the reconciler republish past the stream's duplicate window."""
        await publish(
            self._js,
            self._names.tasks,
            events_pb2.Task(
                job_execution_id=child.job_execution_id,
                parent_job_execution_id=child.parent_job_execution_id,
                engine=child.engine,
                server_name=child.server_name,
                port=child.port,
            ),
            # Derived from (execution, database, attempt): a retried publish is dropped.
            msg_id=f"task:{child.job_execution_id}:{child.current_attempt + 1}{salt}",
        )

    def parent_changed(self, parent_id: str) -> None:
        """Tells the scheduler a child of `parent_id` changed. Coalesced: however many
        children of a parent changed within COALESCE_SECONDS, one event goes out, since the
        scheduler recounts the children from the control database anyway."""
        self._changed.add(parent_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name="parent-events")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        parents, self._changed = self._changed, set()
        for parent_id in parents:
            try:
                await publish(
                    self._js,
                    self._names.child_events,
                    events_pb2.ExecutionEvent(parent_job_execution_id=parent_id),
                    # Never de-duplicated: each one asks for a fold of the current state.
                    msg_id=f"changed:{parent_id}:{uuid.uuid4().hex}",
                )
            except Exception as error:  # the scheduler's reconciler folds it within seconds
                log.warning("parent event not published", extra={"error": repr(error)})

    async def expanded(
        self, parent_id: str, *, child_count: int, content_version: int, error: str = ""
    ) -> None:
        await publish(
            self._js,
            self._names.child_events,
            events_pb2.ExecutionEvent(
                parent_job_execution_id=parent_id,
                expanded=events_pb2.Expanded(
                    child_count=child_count, content_version=content_version, error=error
                ),
            ),
            msg_id=f"expanded:{parent_id}",
        )

    async def result_batch(self, batch: events_pb2.ResultBatch) -> None:
        await publish(
            self._js,
            self._names.results,
            batch,
            msg_id=f"result:{batch.job_execution_id}:{batch.attempt}",
            ack_timeout=30.0,
        )
