"""The executor's periodic work: its heartbeat (ListWorkers, takeover of a dead worker's
attempts) and the reconciler that republishes work the broker no longer holds.

The control database is the truth; JetStream only delivers (docs/design.md, "State and
delivery"). A task lost with a wiped stream, or a retry whose nak went nowhere because its
message was acknowledged by a duplicate, would otherwise leave a child waiting forever.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ChildExecutionRow
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
        handled_here: Callable[[], set[str]],
        results_in_flight: Callable[[], Awaitable[int]],
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
        # Children this executor is handling now; and how many result batches and outcomes
        # the broker still holds (for the hand-overs the broker lost, see below).
        self._handled_here = handled_here
        self._results_in_flight = results_in_flight
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
            repository = ExecutorRepository(session)
            created = await repository.created_before(lost_before)
            retrying = await repository.retries_due_before(lost_before)
            orphaned = await repository.orphaned_attempts(
                started_before=lost_before, workers_stale_before=stale_workers
            )
            claimed = await repository.claim_republish(
                [*created, *retrying, *orphaned], now=now, claimed_before=lost_before
            )
            await session.commit()
        stuck = [*claimed, *await self._release_lost_hand_overs(lost_before)]
        for child in stuck:
            await self._publisher.task(child, salt=f"r{int(now.timestamp())}")
        if stuck:
            log.info("republished lost tasks", extra={"count": len(stuck)})
        return len(stuck)

    async def _release_lost_hand_overs(self, started_before: datetime) -> list[ChildExecutionRow]:
        """Attempts of this (live) executor that it handed to the results service and whose
        result batch or outcome the broker then lost (a wiped stream): nobody else may take
        them over, since their worker is alive, so this executor ends them and their children
        run again.

        A result is on its way while its batch is in the results stream or its outcome in
        the outcomes consumer (the results service publishes the outcome before it acks the
        batch; the outcome is acked after it is recorded). So: attempts not handled here
        before the broker is asked, the broker holding neither, and still current after."""
        async with self._sessions() as session:
            mine = await ExecutorRepository(session).attempts_of_worker(
                self._worker_id, started_before=started_before
            )
        handled = self._handled_here()
        handed_over = [(child, attempt) for child, attempt in mine if child not in handled]
        if not handed_over:
            return []
        try:
            if await self._results_in_flight() > 0:
                return []
        except Exception as error:  # the broker cannot say: nothing is released this round
            log.warning("results in flight unknown", extra={"error": repr(error)})
            return []
        released: list[ChildExecutionRow] = []
        async with self._sessions() as session:
            repository = ExecutorRepository(session)
            for child_id, attempt in handed_over:
                child = await repository.release_lost_attempt(
                    child_id, attempt, worker_id=self._worker_id, now=utcnow()
                )
                if child is not None:
                    released.append(child)
            await session.commit()
        if released:
            log.info(
                "attempts whose result the broker lost run again", extra={"count": len(released)}
            )
        return released
