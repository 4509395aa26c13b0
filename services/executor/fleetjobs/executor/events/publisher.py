"""What the executor publishes: tasks, child events for the scheduler, result batches."""

from __future__ import annotations

from nats.js import JetStreamContext

from fleetjobs.core.db.models import ChildExecutionRow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.messaging import Names, publish
from fleetjobs.events.v1 import events_pb2


class ExecutorPublisher:
    def __init__(self, js: JetStreamContext, names: Names) -> None:
        self._js = js
        self._names = names

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

    async def child_changed(
        self, parent_id: str, child_id: str, lifecycle: Lifecycle, attempt: int
    ) -> None:
        await publish(
            self._js,
            self._names.child_events,
            events_pb2.ExecutionEvent(
                parent_job_execution_id=parent_id,
                job_execution_id=child_id,
                lifecycle=lifecycle.to_proto(),
            ),
            msg_id=f"child:{child_id}:{attempt}:{lifecycle.value}",
        )

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
