from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import JobRow


class Jobs:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, name: str, *, include_deleted: bool = False) -> JobRow | None:
        """A job DeleteJob marked is gone for users, but its executions still read it."""
        row = await self._session.get(JobRow, name)
        if row is None or (row.delete_time is not None and not include_deleted):
            return None
        return row

    def add(self, row: JobRow) -> None:
        self._session.add(row)

    async def list(self, *, offset: int, limit: int) -> Sequence[JobRow]:
        statement = (
            select(JobRow)
            .where(JobRow.delete_time.is_(None))
            .order_by(JobRow.name)
            .offset(offset)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def mark_deleted(self, name: str, now: datetime) -> bool:
        """False when there is no such job, or it is marked already."""
        result = await self._session.execute(
            update(JobRow)
            .where(JobRow.name == name, JobRow.delete_time.is_(None))
            .values(delete_time=now, update_time=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime

    async def deleted_names(self, *, after: str, limit: int) -> Sequence[str]:
        statement = (
            select(JobRow.name)
            .where(JobRow.delete_time.is_not(None), JobRow.name > after)
            .order_by(JobRow.name)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def remove_deleted(self, name: str) -> bool:
        result = await self._session.execute(
            delete(JobRow).where(JobRow.name == name, JobRow.delete_time.is_not(None))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime

    async def first_using_credential(self, name: str) -> tuple[str, bool] | None:
        """A job that sends this credential to its targets or to its result destination."""
        return await self._first(
            or_(
                JobRow.credential_name == name,
                JobRow.result_destination["credential_name"].as_string() == name,
            )
        )

    async def first_using_content(self, name: str) -> tuple[str, bool] | None:
        return await self._first(JobRow.content_name == name)

    async def first_using_target(self, target_id: str) -> tuple[str, bool] | None:
        return await self._first(JobRow.target_id == target_id)

    async def first_using_policy(self, name: str) -> tuple[str, bool] | None:
        return await self._first(JobRow.execution_policy_name == name)

    async def _first(self, condition: ColumnElement[bool]) -> tuple[str, bool] | None:
        """The first job matching, and whether DeleteJob marked it. A marked job still
        counts: its executions run on what it names until they end."""
        statement = (
            select(JobRow.name, JobRow.delete_time).where(condition).order_by(JobRow.name).limit(1)
        )
        found = (await self._session.execute(statement)).first()
        if found is None:
            return None
        name, deleted = found
        return name, deleted is not None
