"""Result outcomes (results → executor): a child is SUCCEEDED only once its rows are
committed in the destination (API.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from nats.aio.msg import Msg

from fleetjobs.core.db import utcnow
from fleetjobs.events.v1 import events_pb2
from fleetjobs.executor.db.executions import ExecutorRepository
from fleetjobs.executor.db.group_commit import GroupCommit
from fleetjobs.executor.events.publisher import ExecutorPublisher

log = logging.getLogger(__name__)


class OutcomeRecorder:
    def __init__(
        self,
        writes: GroupCommit,
        publisher: ExecutorPublisher,
        *,
        on_outcome: Callable[[str], None],
    ) -> None:
        self._writes = writes
        self._publisher = publisher
        self._on_outcome = on_outcome

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        await asyncio.gather(*(self._record(message) for message in messages))

    async def _record(self, message: Msg) -> None:
        outcome = events_pb2.ResultOutcome.FromString(message.data)
        self._on_outcome(outcome.job_execution_id)

        async def record(repository: ExecutorRepository) -> str | None:
            """The parent's id when the outcome was current, else None (fenced)."""
            current = await repository.record_result_outcome(
                outcome.job_execution_id,
                outcome.attempt,
                ok=outcome.ok,
                rows=outcome.rows_collected or outcome.rows_written,
                message=outcome.message,
                messages=list(outcome.messages),
                now=utcnow(),
            )
            if not current:
                return None
            return outcome.parent_job_execution_id or await repository.parent_of(
                outcome.job_execution_id
            )

        try:
            parent_id = await self._writes.run(record)
        except Exception:
            log.exception("recording a result outcome failed; redelivered later")
            await message.nak(delay=2.0)
            return
        if parent_id is None:
            log.info(
                "outcome of a superseded attempt ignored",
                extra={"job_execution_id": outcome.job_execution_id},
            )
        else:
            self._publisher.parent_changed(parent_id)
        await message.ack()
