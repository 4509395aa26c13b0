from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.catalog.domain import KIND_COLLECTION
from fleetjobs.core.db.models import TargetMembershipRow, TargetRow


class Targets:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, target_id: str, *, for_share: bool = False) -> TargetRow | None:
        statement = select(TargetRow).where(TargetRow.target_id == target_id)
        if for_share:
            statement = statement.with_for_update(read=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_collection(self, name: str) -> TargetRow | None:
        statement = select(TargetRow).where(
            TargetRow.kind == KIND_COLLECTION, TargetRow.collection_name == name
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def find_by_identity(self, identity_key: str) -> TargetRow | None:
        statement = select(TargetRow).where(TargetRow.identity_key == identity_key)
        return (await self._session.execute(statement)).scalar_one_or_none()

    def add(self, row: TargetRow) -> None:
        self._session.add(row)

    async def list(
        self, *, offset: int, limit: int, parent_id: str | None = None
    ) -> Sequence[TargetRow]:
        statement = select(TargetRow)
        if parent_id is not None:
            statement = statement.join(
                TargetMembershipRow, TargetMembershipRow.child_id == TargetRow.target_id
            ).where(TargetMembershipRow.collection_id == parent_id)
        statement = (
            statement.order_by(TargetRow.create_time, TargetRow.target_id)
            .offset(offset)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def child_counts(self, collection_ids: Sequence[str]) -> dict[str, int]:
        if not collection_ids:
            return {}
        statement = (
            select(TargetMembershipRow.collection_id, func.count())
            .where(TargetMembershipRow.collection_id.in_(collection_ids))
            .group_by(TargetMembershipRow.collection_id)
        )
        return {
            collection_id: int(count)
            for collection_id, count in (await self._session.execute(statement)).all()
        }

    async def is_member(self, collection_id: str, child_id: str) -> bool:
        row = await self._session.get(TargetMembershipRow, (collection_id, child_id))
        return row is not None

    def add_member(self, collection_id: str, child_id: str) -> None:
        self._session.add(TargetMembershipRow(collection_id=collection_id, child_id=child_id))

    async def remove_member(self, collection_id: str, child_id: str) -> bool:
        result = await self._session.execute(
            delete(TargetMembershipRow).where(
                TargetMembershipRow.collection_id == collection_id,
                TargetMembershipRow.child_id == child_id,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime

    async def descendants(self, target_id: str) -> set[str]:
        """Every target reachable from `target_id` through memberships (itself excluded unless
        a cycle leads back to it). Breadth-first, one query per level."""
        seen: set[str] = set()
        frontier = {target_id}
        while frontier:
            statement = select(TargetMembershipRow.child_id).where(
                TargetMembershipRow.collection_id.in_(frontier)
            )
            children = set((await self._session.execute(statement)).scalars())
            frontier = children - seen
            seen |= children
        return seen

    async def database_engines_under(self, target_id: str) -> set[str]:
        """The engines of the database targets a target stands for right now: itself, or the
        members of a collection, nested collections included."""
        ids = {target_id} | await self.descendants(target_id)
        statement = (
            select(TargetRow.engine)
            .where(TargetRow.target_id.in_(ids), TargetRow.kind != KIND_COLLECTION)
            .distinct()
        )
        return {engine for engine in (await self._session.execute(statement)).scalars() if engine}

    async def delete(self, target_id: str) -> bool:
        # Memberships go first and explicitly: the foreign keys cascade too, but only where
        # the backend enforces them (SQLite needs a pragma per connection).
        await self._session.execute(
            delete(TargetMembershipRow).where(
                or_(
                    TargetMembershipRow.collection_id == target_id,
                    TargetMembershipRow.child_id == target_id,
                )
            )
        )
        result = await self._session.execute(
            delete(TargetRow).where(TargetRow.target_id == target_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime
