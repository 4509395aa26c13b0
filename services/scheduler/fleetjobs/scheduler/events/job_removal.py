"""Jobs DeleteJob marked are removed with their history once none of their executions is
active (the seeds' asynchronous deletion; running executions are not canceled).

History goes leaf first: result-set records (results service), children, attempts and
snapshots (executor), then the parents (here), and the job itself (catalog) last, once no
parent is left. Every step is idempotent, so a round cut short by a crash or an unavailable
service is finished by a later one.
"""

from __future__ import annotations

import logging

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.clients import CatalogClient, CatalogUnavailableError, DefinitionNotFound
from fleetjobs.core.logs import bind_context
from fleetjobs.scheduler.db.executions import ParentRepository
from fleetjobs.scheduler.events.history_clients import HistoryClients

log = logging.getLogger(__name__)

PURGE_BATCH = 500


class JobRemover:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: CatalogClient,
        history: HistoryClients,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._history = history

    async def remove_deleted_jobs(self) -> list[str]:
        """Returns the jobs removed this round."""
        removed: list[str] = []
        for name in await self._catalog.list_deleted_jobs():
            with bind_context(job_name=name):
                try:
                    if await self._remove(name):
                        removed.append(name)
                except (grpc.aio.AioRpcError, CatalogUnavailableError) as error:
                    # EXECUTION_ACTIVE (a child still moving) or a service away: next round.
                    log.warning("removing a deleted job waits", extra={"error": str(error)})
        return removed

    async def _remove(self, name: str) -> bool:
        purged = 0
        while True:
            async with self._sessions() as session:
                ended = list(await ParentRepository(session).ended_of_job(name, PURGE_BATCH))
            if not ended:
                break
            await self._history.purge_result_sets(ended)
            await self._history.purge_executions(name, ended)
            async with self._sessions.begin() as session:
                await ParentRepository(session).delete_ended(ended)
            purged += len(ended)
        async with self._sessions() as session:
            remaining = await ParentRepository(session).count_of_job(name)
        if remaining:
            if purged:
                log.info("history of a deleted job partly removed", extra={"executions": purged})
            return False  # executions still active: the job goes once they end
        await self._history.purge_executions(name, [], job_removed=True)
        try:
            await self._catalog.remove_deleted_job(name)
        except DefinitionNotFound:
            return False  # another scheduler removed it first
        log.info("deleted job removed with its history", extra={"executions": purged})
        return True
