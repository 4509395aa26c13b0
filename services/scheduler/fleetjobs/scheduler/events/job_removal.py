"""Jobs DeleteJob marked are removed with their whole history once none of their executions
is active (the seeds: "after all job executions have completed for the job"; running
executions are not canceled).

History goes in batches: children, attempts and snapshots (executor, which refuses if any
of them has not ended), then result-set records (results service), then the parents (here);
the job itself (catalog) last, once no parent is left. Every step is idempotent, so a round
cut short by a crash or an unavailable service is finished by a later one. A round removes
at most BATCHES_PER_ROUND batches and resumes after the last job it looked at, so a long
history or a job whose executions never end holds up neither the other jobs nor the
scheduler's other reconciliation.
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
BATCHES_PER_ROUND = 8
NAMES_PER_PAGE = 100


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
        # The last job looked at: the next round starts after it, and wraps around.
        self._after = ""

    async def remove_deleted_jobs(self) -> list[str]:
        """One round; returns the jobs removed in it."""
        removed: list[str] = []
        budget = BATCHES_PER_ROUND
        names = await self._catalog.list_deleted_jobs(
            after_name=self._after, page_size=NAMES_PER_PAGE
        )
        if not names and self._after:
            self._after = ""  # past the last one: from the start next round
            return removed
        for name in names:
            if budget <= 0:
                return removed
            self._after = name
            with bind_context(job_name=name):
                try:
                    done, budget = await self._remove(name, budget)
                except (grpc.aio.AioRpcError, CatalogUnavailableError) as error:
                    # EXECUTION_ACTIVE (a child still moving) or a service away: next round.
                    log.warning("removing a deleted job waits", extra={"error": str(error)})
                    continue
            if done:
                removed.append(name)
        if len(names) < NAMES_PER_PAGE:
            self._after = ""
        return removed

    async def _remove(self, name: str, budget: int) -> tuple[bool, int]:
        """Whether the job is gone now, and the batches left in the round's budget."""
        async with self._sessions() as session:
            if await ParentRepository(session).active_of_job(name):
                return False, budget  # the history goes only once every execution ended
        purged = 0
        while True:
            async with self._sessions() as session:
                ended = list(await ParentRepository(session).ended_of_job(name, PURGE_BATCH))
            if not ended:
                break
            if budget <= 0:
                log.info("history of a deleted job partly removed", extra={"executions": purged})
                return False, budget
            budget -= 1
            await self._history.purge_executions(name, ended)
            await self._history.purge_result_sets(ended)
            async with self._sessions.begin() as session:
                await ParentRepository(session).delete_ended(ended)
            purged += len(ended)
        async with self._sessions() as session:
            if await ParentRepository(session).count_of_job(name):
                return False, budget  # an execution started meanwhile: it goes once it ends
        await self._history.purge_executions(name, [], job_removed=True)
        try:
            await self._catalog.remove_deleted_job(name)
        except DefinitionNotFound:
            return False, budget  # another scheduler removed it first
        log.info("deleted job removed with its history", extra={"executions": purged})
        return True, budget
