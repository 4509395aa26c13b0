"""The executor's periodic work: its heartbeat (ListWorkers, takeover of a dead worker's
attempts) and the reconciler that republishes work the broker no longer holds.

The control database is the truth; JetStream only delivers (design.md). A task lost with a
wiped stream, or a retry whose nak went nowhere because its message was acknowledged by a
duplicate, would otherwise leave a child waiting forever.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import AttemptRow, ChildExecutionRow, WorkerRow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.executor.db.executions import ExecutorRepository
from fleetjobs.executor.events.publisher import ExecutorPublisher

log = logging.getLogger(__name__)


class Maintenance:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publisher: ExecutorPublisher,
        *,
        worker_id: str,
        in_flight: Callable[[], int],
        sweep_stops: Callable[[], Awaitable[None]],
        heartbeat_seconds: float,
        reconcile_seconds: float,
        worker_stale_seconds: float,
        lost_after_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._worker_id = worker_id
        self._in_flight = in_flight
        self._sweep_stops = sweep_stops
        self._heartbeat_seconds = heartbeat_seconds
        self._reconcile_seconds = reconcile_seconds
        self._worker_stale = timedelta(seconds=worker_stale_seconds)
        # Work counts as lost only after the broker would surely have redelivered it itself.
        self._lost_after = timedelta(seconds=lost_after_seconds)
        self._host = socket.gethostname()
        self._started = utcnow()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.heartbeat()
        self._task = asyncio.create_task(self._run(), name="executor-maintenance")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
        async with self._sessions() as session:
            await ExecutorRepository(session).remove_worker(self._worker_id)
            await session.commit()

    async def heartbeat(self) -> None:
        async with self._sessions() as session:
            await ExecutorRepository(session).heartbeat(
                worker_id=self._worker_id,
                host=self._host,
                started=self._started,
                in_flight=self._in_flight(),
                now=utcnow(),
            )
            await session.commit()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_reconcile = loop.time() + self._reconcile_seconds
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self._heartbeat_seconds)
                return
            except TimeoutError:
                pass
            try:
                await self.heartbeat()
                await self._sweep_stops()
                if loop.time() >= next_reconcile:
                    next_reconcile = loop.time() + self._reconcile_seconds
                    await self.reconcile_once()
            except Exception as error:  # the next beat tries again
                log.warning("maintenance failed", extra={"error": repr(error)})

    async def reconcile_once(self, now: datetime | None = None) -> int:
        """Republishes tasks of children that should be moving but are not; returns how many.
        A republish of work that is in fact alive is harmless: begin_attempt drops it."""
        now = now or utcnow()
        lost_before = now - self._lost_after
        stale_workers = now - self._worker_stale
        async with self._sessions() as session:
            created = (
                (
                    await session.execute(
                        select(ChildExecutionRow)
                        .where(
                            ChildExecutionRow.lifecycle == Lifecycle.CREATED,
                            ChildExecutionRow.create_time < lost_before,
                        )
                        .limit(1000)
                    )
                )
                .scalars()
                .all()
            )
            retrying = (
                (
                    await session.execute(
                        select(ChildExecutionRow)
                        .where(
                            ChildExecutionRow.lifecycle == Lifecycle.WAITING_FOR_RETRY,
                            ChildExecutionRow.next_attempt_at < lost_before,
                        )
                        .limit(1000)
                    )
                )
                .scalars()
                .all()
            )
            orphaned = (
                (
                    await session.execute(
                        select(ChildExecutionRow)
                        .join(
                            AttemptRow,
                            (AttemptRow.job_execution_id == ChildExecutionRow.job_execution_id)
                            & (AttemptRow.attempt == ChildExecutionRow.current_attempt),
                        )
                        .outerjoin(WorkerRow, WorkerRow.worker_id == AttemptRow.worker_id)
                        .where(
                            ChildExecutionRow.lifecycle == Lifecycle.IN_PROGRESS,
                            AttemptRow.start_time < lost_before,
                            (WorkerRow.worker_id.is_(None))
                            | (WorkerRow.heartbeat_time < stale_workers),
                        )
                        .limit(1000)
                    )
                )
                .scalars()
                .all()
            )
        stuck = [*created, *retrying, *orphaned]
        for child in stuck:
            await self._publisher.task(child, salt=f"r{int(now.timestamp())}")
        if stuck:
            log.info("republished lost tasks", extra={"count": len(stuck)})
        return len(stuck)
