"""Removal of a deleted job's history, the part the results service writes: the result-set
records. The rows in destination tables are the user's data and stay."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import ResultSetRow


async def purge_result_sets(session: AsyncSession, parent_ids: Sequence[str]) -> int:
    result = await session.execute(
        delete(ResultSetRow).where(ResultSetRow.parent_job_execution_id.in_(list(parent_ids)))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime
