from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import JobRow


class Jobs:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, name: str) -> JobRow | None:
        return await self._session.get(JobRow, name)

    def add(self, row: JobRow) -> None:
        self._session.add(row)

    async def list(self, *, offset: int, limit: int) -> Sequence[JobRow]:
        statement = select(JobRow).order_by(JobRow.name).offset(offset).limit(limit)
        return (await self._session.execute(statement)).scalars().all()

    async def delete(self, name: str) -> bool:
        result = await self._session.execute(delete(JobRow).where(JobRow.name == name))
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime

    async def first_using_credential(self, name: str) -> str | None:
        """A job that sends this credential to its targets or to its result destination."""
        return await self._first(
            or_(
                JobRow.credential_name == name,
                JobRow.result_destination["credential_name"].as_string() == name,
            )
        )

    async def first_using_content(self, name: str) -> str | None:
        return await self._first(JobRow.content_name == name)

    async def first_using_target(self, target_id: str) -> str | None:
        return await self._first(JobRow.target_id == target_id)

    async def first_using_policy(self, name: str) -> str | None:
        return await self._first(JobRow.execution_policy_name == name)

    async def _first(self, condition: ColumnElement[bool]) -> str | None:
        statement = select(JobRow.name).where(condition).order_by(JobRow.name).limit(1)
        return (await self._session.execute(statement)).scalar_one_or_none()
