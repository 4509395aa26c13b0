"""Removal of a deleted job's history, the part the executor writes: snapshots, children
and attempts of parent executions that have ended."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import (
    AttemptRow,
    ChildExecutionRow,
    ExecutionSnapshotRow,
    JobExpansionLockRow,
    ParentExecutionRow,
)
from fleetjobs.core.lifecycle import TERMINAL


class ExecutionHistory:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def jobs_of(self, parent_ids: Sequence[str]) -> set[str]:
        """The jobs the executor's rows of these parents belong to."""
        ids = list(parent_ids)
        result = await self._session.execute(
            union(
                select(ExecutionSnapshotRow.job_name).where(
                    ExecutionSnapshotRow.job_execution_id.in_(ids)
                ),
                select(ChildExecutionRow.job_name).where(
                    ChildExecutionRow.parent_job_execution_id.in_(ids)
                ),
            )
        )
        return set(result.scalars().all())

    async def still_active(self, parent_ids: Sequence[str]) -> int:
        """Parents not ended (the scheduler's rows, read), and children not ended."""
        ids = list(parent_ids)
        parents = await self._session.execute(
            select(func.count()).where(
                ParentExecutionRow.job_execution_id.in_(ids),
                ParentExecutionRow.active.is_(True),
            )
        )
        children = await self._session.execute(
            select(func.count()).where(
                ChildExecutionRow.parent_job_execution_id.in_(ids),
                ChildExecutionRow.lifecycle.not_in([str(x) for x in TERMINAL]),
            )
        )
        return int(parents.scalar_one()) + int(children.scalar_one())

    async def purge(self, job_name: str, parent_ids: Sequence[str], *, job_removed: bool) -> int:
        """Deletes the rows of these parents (checked to be `job_name`'s); returns how many
        went."""
        ids = list(parent_ids)
        deleted = 0
        for statement in (
            delete(AttemptRow).where(AttemptRow.parent_job_execution_id.in_(ids)),
            delete(ChildExecutionRow).where(ChildExecutionRow.parent_job_execution_id.in_(ids)),
            delete(ExecutionSnapshotRow).where(ExecutionSnapshotRow.job_execution_id.in_(ids)),
        ):
            result = await self._session.execute(statement)
            deleted += int(result.rowcount)  # type: ignore[attr-defined]
        if job_removed:
            await self._session.execute(
                delete(JobExpansionLockRow).where(JobExpansionLockRow.job_name == job_name)
            )
        return deleted
