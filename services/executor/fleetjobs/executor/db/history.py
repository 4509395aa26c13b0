"""Removal of a deleted job's history, the part the executor writes: snapshots, children
and attempts of parent executions that have ended."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import (
    AttemptRow,
    ChildExecutionRow,
    ExecutionSnapshotRow,
    JobExpansionLockRow,
)
from fleetjobs.core.lifecycle import TERMINAL


class ExecutionHistory:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def unfinished_children(self, parent_ids: Sequence[str]) -> int:
        result = await self._session.execute(
            select(func.count()).where(
                ChildExecutionRow.parent_job_execution_id.in_(list(parent_ids)),
                ChildExecutionRow.lifecycle.not_in([str(x) for x in TERMINAL]),
            )
        )
        return int(result.scalar_one())

    async def purge(self, job_name: str, parent_ids: Sequence[str], *, job_removed: bool) -> int:
        """Deletes the rows of these parents (of `job_name`); returns how many went."""
        ids = list(parent_ids)
        deleted = 0
        for statement in (
            delete(AttemptRow).where(AttemptRow.parent_job_execution_id.in_(ids)),
            delete(ChildExecutionRow).where(ChildExecutionRow.parent_job_execution_id.in_(ids)),
            delete(ExecutionSnapshotRow).where(
                ExecutionSnapshotRow.job_execution_id.in_(ids),
                ExecutionSnapshotRow.job_name == job_name,
            ),
        ):
            result = await self._session.execute(statement)
            deleted += int(result.rowcount)  # type: ignore[attr-defined]
        if job_removed:
            await self._session.execute(
                delete(JobExpansionLockRow).where(JobExpansionLockRow.job_name == job_name)
            )
        return deleted
