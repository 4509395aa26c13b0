from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import RequestIdRow


class RequestIds:
    """(scope = the RPC's name, request_id) → the key of the resource the first call made.
    Written in the same transaction as the resource, so either both exist or neither."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, scope: str, request_id: str) -> str | None:
        row = await self._session.get(RequestIdRow, (scope, request_id))
        return None if row is None else row.resource_key

    def add(self, scope: str, request_id: str, resource_key: str) -> None:
        self._session.add(
            RequestIdRow(
                scope=scope,
                request_id=request_id,
                resource_key=resource_key,
                create_time=utcnow(),
            )
        )
