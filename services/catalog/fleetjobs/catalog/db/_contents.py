from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import ContentVersionRow


class Contents:
    """Every version of every content; a content exists while it has a version."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def latest(self, name: str, *, for_share: bool = False) -> ContentVersionRow | None:
        statement = (
            select(ContentVersionRow)
            .where(ContentVersionRow.name == name)
            .order_by(ContentVersionRow.version.desc())
            .limit(1)
        )
        if for_share:
            statement = statement.with_for_update(read=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get(self, name: str, version: int) -> ContentVersionRow | None:
        return await self._session.get(ContentVersionRow, (name, version))

    def add(self, row: ContentVersionRow) -> None:
        self._session.add(row)

    async def list_latest(self, *, offset: int, limit: int) -> Sequence[ContentVersionRow]:
        newest = (
            select(
                ContentVersionRow.name.label("name"),
                func.max(ContentVersionRow.version).label("version"),
            )
            .group_by(ContentVersionRow.name)
            .subquery()
        )
        statement = (
            select(ContentVersionRow)
            .join(
                newest,
                and_(
                    ContentVersionRow.name == newest.c.name,
                    ContentVersionRow.version == newest.c.version,
                ),
            )
            .order_by(ContentVersionRow.name)
            .offset(offset)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def list_versions(
        self, name: str, *, offset: int, limit: int
    ) -> Sequence[ContentVersionRow]:
        statement = (
            select(ContentVersionRow)
            .where(ContentVersionRow.name == name)
            .order_by(ContentVersionRow.version.desc())
            .offset(offset)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def delete(self, name: str) -> bool:
        result = await self._session.execute(
            delete(ContentVersionRow).where(ContentVersionRow.name == name)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime
