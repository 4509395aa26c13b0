from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import CredentialRow


class Credentials:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, name: str, *, for_share: bool = False) -> CredentialRow | None:
        statement = select(CredentialRow).where(CredentialRow.name == name)
        if for_share:
            # Held until commit, so a concurrent DeleteCredential waits for a job that is
            # being created with this credential (PostgreSQL; SQLite serialises writers).
            statement = statement.with_for_update(read=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    def add(self, row: CredentialRow) -> None:
        self._session.add(row)

    async def list(self, *, offset: int, limit: int) -> Sequence[CredentialRow]:
        statement = select(CredentialRow).order_by(CredentialRow.name).offset(offset).limit(limit)
        return (await self._session.execute(statement)).scalars().all()

    async def delete(self, name: str) -> bool:
        result = await self._session.execute(
            delete(CredentialRow).where(CredentialRow.name == name)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime
