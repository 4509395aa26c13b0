"""Result outcomes (results → executor): a child is SUCCEEDED only once its rows are
committed in the destination (API.md)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ChildExecutionRow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.events.v1 import events_pb2
from fleetjobs.executor.db.executions import ExecutorRepository
from fleetjobs.executor.events.publisher import ExecutorPublisher

log = logging.getLogger(__name__)


class OutcomeRecorder:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], publisher: ExecutorPublisher
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        changed: list[tuple[ChildExecutionRow, Lifecycle, int]] = []
        async with self._sessions() as session:
            repository = ExecutorRepository(session)
            for message in messages:
                outcome = events_pb2.ResultOutcome.FromString(message.data)
                current = await repository.record_result_outcome(
                    outcome.job_execution_id,
                    outcome.attempt,
                    ok=outcome.ok,
                    rows=outcome.rows_written,
                    message=outcome.message,
                    now=utcnow(),
                )
                child = await session.get(ChildExecutionRow, outcome.job_execution_id)
                if current and child is not None:
                    lifecycle = Lifecycle.SUCCEEDED if outcome.ok else Lifecycle.FAILED
                    changed.append((child, lifecycle, outcome.attempt))
                elif not current:
                    log.info(
                        "outcome of a superseded attempt ignored",
                        extra={"job_execution_id": outcome.job_execution_id},
                    )
            await session.commit()
        for child, lifecycle, attempt in changed:
            await self._publisher.child_changed(
                child.parent_job_execution_id, child.job_execution_id, lifecycle, attempt
            )
        for message in messages:
            await message.ack()
