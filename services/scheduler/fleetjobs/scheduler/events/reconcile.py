"""The scheduler's safety net: the control database is the truth, JetStream only delivers.

- A parent still CREATED a while after it was recorded lost its start message (NATS down at
  the publish, a wiped stream): publish it again.
- A parent still waiting although its children are all terminal missed its fold (an event
  lost with the stream): fold it again.
- A parent past its job timeout is stopped as TIMED_OUT: executors cancel what still runs.
- A job DeleteJob marked is removed with its history once no execution of it is active.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.db import utcnow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.scheduler.db.executions import ParentRepository
from fleetjobs.scheduler.events.commands import CommandPublisher
from fleetjobs.scheduler.events.fold import ParentFolder
from fleetjobs.scheduler.events.job_removal import JobRemover

log = logging.getLogger(__name__)

RECONCILE_INTERVAL_SECONDS = 5.0
START_GRACE = timedelta(seconds=10)


class Reconciler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        commands: CommandPublisher,
        folder: ParentFolder,
        remover: JobRemover,
    ) -> None:
        self._sessions = sessions
        self._commands = commands
        self._folder = folder
        self._remover = remover
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler-reconcile")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), RECONCILE_INTERVAL_SECONDS)
                return
            except TimeoutError:
                pass
            try:
                await self.reconcile_once()
            except Exception as error:  # the next round tries again
                log.warning("reconcile failed", extra={"error": repr(error)})

    async def reconcile_once(self) -> None:
        async with self._sessions() as session:
            stale = await ParentRepository(session).stale_created(utcnow() - START_GRACE)
            waiting = await ParentRepository(session).waiting_for_children()
        async with self._sessions() as session:
            parents = ParentRepository(session)
            overdue = await parents.past_deadline(utcnow())
            for parent_id in overdue:
                await parents.request_stop(
                    parent_id, lifecycle=Lifecycle.TIMED_OUT, end_now=False, now=utcnow()
                )
            await session.commit()
        for parent_id in overdue:
            log.info("job timeout passed; stopping", extra={"job_execution_id": parent_id})
            await self._commands.publish_stop(parent_id, Lifecycle.TIMED_OUT)
        for parent in stale:
            log.info("republishing start", extra={"job_execution_id": parent.job_execution_id})
            await self._commands.publish_start(parent.job_execution_id, parent.job_name)
        for parent_id in waiting:
            await self._folder.fold_parent(parent_id)
        try:
            await self._remover.remove_deleted_jobs()
        except Exception as error:  # the catalog is away: the next round tries again
            log.warning("removing deleted jobs failed", extra={"error": repr(error)})
