from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, delete, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import ExecutionPolicyRow


class ExecutionPolicies:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, name: str, *, for_share: bool = False) -> ExecutionPolicyRow | None:
        statement = select(ExecutionPolicyRow).where(ExecutionPolicyRow.name == name)
        if for_share:
            statement = statement.with_for_update(read=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    def add(self, row: ExecutionPolicyRow) -> None:
        self._session.add(row)

    async def list_names(self, *, builtin: str, offset: int, limit: int) -> Sequence[str]:
        """Names in the database's order, the built-in one (which has no row) among them, so
        offsets stay stable whatever collation orders them."""
        names = union_all(
            select(literal(builtin, String(128)).label("name")),
            select(ExecutionPolicyRow.name.label("name")).where(ExecutionPolicyRow.name != builtin),
        ).subquery()
        statement = select(names.c.name).order_by(names.c.name).offset(offset).limit(limit)
        return (await self._session.execute(statement)).scalars().all()

    async def get_many(self, names: Sequence[str]) -> dict[str, ExecutionPolicyRow]:
        if not names:
            return {}
        statement = select(ExecutionPolicyRow).where(ExecutionPolicyRow.name.in_(names))
        return {row.name: row for row in (await self._session.execute(statement)).scalars()}

    async def delete(self, name: str) -> bool:
        result = await self._session.execute(
            delete(ExecutionPolicyRow).where(ExecutionPolicyRow.name == name)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime
