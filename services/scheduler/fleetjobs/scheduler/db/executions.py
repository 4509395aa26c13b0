"""Parent executions (written here) and the read model of children and attempts (written by
the executor, read here for ExecutionService)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import (
    AttemptRow,
    ChildExecutionRow,
    ExecutionSnapshotRow,
    ParentExecutionRow,
)
from fleetjobs.core.lifecycle import TERMINAL, Lifecycle


class ParentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, job_execution_id: str) -> ParentExecutionRow | None:
        return await self._session.get(ParentExecutionRow, job_execution_id)

    async def by_request_id(self, request_id: str) -> ParentExecutionRow | None:
        result = await self._session.execute(
            select(ParentExecutionRow).where(ParentExecutionRow.request_id == request_id)
        )
        return result.scalar_one_or_none()

    def add(self, row: ParentExecutionRow) -> None:
        self._session.add(row)

    async def stale_created(self, older_than: datetime) -> Sequence[ParentExecutionRow]:
        result = await self._session.execute(
            select(ParentExecutionRow)
            .where(
                ParentExecutionRow.lifecycle == Lifecycle.CREATED,
                ParentExecutionRow.create_time < older_than,
            )
            .limit(500)
        )
        return result.scalars().all()

    async def waiting_for_children(self) -> Sequence[str]:
        result = await self._session.execute(
            select(ParentExecutionRow.job_execution_id).where(
                ParentExecutionRow.lifecycle == Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS
            )
        )
        return result.scalars().all()

    async def request_stop(
        self, job_execution_id: str, *, lifecycle: Lifecycle, end_now: bool, now: datetime
    ) -> None:
        values: dict[str, object] = {"stop_lifecycle": lifecycle}
        if end_now:
            verb = "stopped" if lifecycle is Lifecycle.CANCELED else "timed out"
            values.update(
                lifecycle=lifecycle,
                active=False,
                end_time=now,
                message=f"{verb} before any database started",
            )
        await self._session.execute(
            update(ParentExecutionRow)
            .where(ParentExecutionRow.job_execution_id == job_execution_id)
            .values(**values)
        )

    async def past_deadline(self, now: datetime) -> Sequence[str]:
        """Active, expanded parents whose job timeout passed and that are not stopping yet."""
        result = await self._session.execute(
            select(ParentExecutionRow.job_execution_id)
            .join(
                ExecutionSnapshotRow,
                ExecutionSnapshotRow.job_execution_id == ParentExecutionRow.job_execution_id,
            )
            .where(
                ParentExecutionRow.active.is_(True),
                ParentExecutionRow.stop_lifecycle.is_(None),
                ExecutionSnapshotRow.deadline < now,
            )
            # Stopped in one transaction in id order: the order the results service locks
            # parents in (see fold.py).
            .order_by(ParentExecutionRow.job_execution_id)
            .limit(500)
        )
        return result.scalars().all()

    async def set_state(
        self,
        job_execution_id: str,
        *,
        lifecycle: Lifecycle,
        message: str,
        counts: dict[str, int],
        child_count: int | None = None,
        content_version: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> None:
        values: dict[str, object] = {
            "lifecycle": lifecycle,
            "active": not lifecycle.terminal,
            "message": message,
            "counts": counts,
        }
        if child_count is not None:
            values["child_count"] = child_count
        if content_version is not None:
            values["content_version"] = content_version
        if start_time is not None:
            values["start_time"] = start_time
        if end_time is not None:
            values["end_time"] = end_time
        await self._session.execute(
            update(ParentExecutionRow)
            .where(ParentExecutionRow.job_execution_id == job_execution_id)
            .values(**values)
        )

    async def list(
        self,
        *,
        job_name: str,
        schedule_name: str,
        target_id: str,
        include_inactive: bool,
        offset: int,
        limit: int,
    ) -> Sequence[ParentExecutionRow]:
        query = select(ParentExecutionRow)
        if job_name:
            query = query.where(ParentExecutionRow.job_name == job_name)
        if schedule_name:
            query = query.where(ParentExecutionRow.schedule_name == schedule_name)
        if target_id:
            query = query.where(ParentExecutionRow.target_id == target_id)
        if not include_inactive:
            query = query.where(ParentExecutionRow.active.is_(True))
        query = query.order_by(
            ParentExecutionRow.create_time.desc(), ParentExecutionRow.job_execution_id
        )
        result = await self._session.execute(query.offset(offset).limit(limit))
        return result.scalars().all()

    # Removal of a deleted job's history.
    async def ended_of_job(self, job_name: str, limit: int) -> Sequence[str]:
        result = await self._session.execute(
            select(ParentExecutionRow.job_execution_id)
            .where(ParentExecutionRow.job_name == job_name, ParentExecutionRow.active.is_(False))
            .order_by(ParentExecutionRow.job_execution_id)
            .limit(limit)
        )
        return result.scalars().all()

    async def active_of_job(self, job_name: str) -> int:
        result = await self._session.execute(
            select(func.count()).where(
                ParentExecutionRow.job_name == job_name, ParentExecutionRow.active.is_(True)
            )
        )
        return int(result.scalar_one())

    async def count_of_job(self, job_name: str) -> int:
        result = await self._session.execute(
            select(func.count()).where(ParentExecutionRow.job_name == job_name)
        )
        return int(result.scalar_one())

    async def delete_ended(self, job_execution_ids: Sequence[str]) -> None:
        await self._session.execute(
            delete(ParentExecutionRow).where(
                ParentExecutionRow.job_execution_id.in_(list(job_execution_ids)),
                ParentExecutionRow.active.is_(False),
            )
        )


class ExecutionReadModel:
    """Children, attempts and snapshots, read-only: the executor owns these rows."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def snapshot(self, parent_id: str) -> ExecutionSnapshotRow | None:
        return await self._session.get(ExecutionSnapshotRow, parent_id)

    async def child_counts(self, parent_id: str) -> dict[str, int]:
        result = await self._session.execute(
            select(ChildExecutionRow.lifecycle, func.count())
            .where(ChildExecutionRow.parent_job_execution_id == parent_id)
            .group_by(ChildExecutionRow.lifecycle)
        )
        return {lifecycle: int(count) for lifecycle, count in result.all()}

    async def child(self, job_execution_id: str) -> ChildExecutionRow | None:
        return await self._session.get(ChildExecutionRow, job_execution_id)

    async def children(
        self,
        parent_id: str,
        *,
        include_inactive: bool = True,
        offset: int = 0,
        limit: int | None = None,
    ) -> Sequence[ChildExecutionRow]:
        query = select(ChildExecutionRow).where(
            ChildExecutionRow.parent_job_execution_id == parent_id
        )
        if not include_inactive:
            query = query.where(ChildExecutionRow.lifecycle.not_in([str(x) for x in TERMINAL]))
        query = query.order_by(ChildExecutionRow.create_time, ChildExecutionRow.job_execution_id)
        query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        result = await self._session.execute(query)
        return result.scalars().all()

    async def children_changed_since(
        self, parent_id: str, since: datetime
    ) -> Sequence[ChildExecutionRow]:
        result = await self._session.execute(
            select(ChildExecutionRow).where(
                ChildExecutionRow.parent_job_execution_id == parent_id,
                ChildExecutionRow.update_time >= since,
            )
        )
        return result.scalars().all()

    async def attempt_counts(self, child_ids: Sequence[str]) -> dict[str, int]:
        if not child_ids:
            return {}
        result = await self._session.execute(
            select(AttemptRow.job_execution_id, func.count())
            .where(AttemptRow.job_execution_id.in_(child_ids))
            .group_by(AttemptRow.job_execution_id)
        )
        return {child_id: int(count) for child_id, count in result.all()}

    async def attempts(
        self, *, child_id: str | None, parent_id: str | None, offset: int, limit: int
    ) -> Sequence[AttemptRow]:
        query = select(AttemptRow)
        if child_id is not None:
            query = query.where(AttemptRow.job_execution_id == child_id)
        if parent_id is not None:
            query = query.where(AttemptRow.parent_job_execution_id == parent_id)
        query = query.order_by(AttemptRow.start_time, AttemptRow.job_task_execution_id)
        result = await self._session.execute(query.offset(offset).limit(limit))
        return result.scalars().all()

    async def attempt(self, job_task_execution_id: str) -> AttemptRow | None:
        return await self._session.get(AttemptRow, job_task_execution_id)
