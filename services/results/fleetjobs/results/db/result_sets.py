"""Result-set records (written here only) and the read of a child's current attempt, which
fences batches from superseded attempts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import ChildExecutionRow, ParentExecutionRow, ResultSetRow
from fleetjobs.core.lifecycle import Lifecycle


class ResultSetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def attempt_is_current(self, child_id: str, attempt: int) -> bool:
        result = await self._session.execute(
            select(ChildExecutionRow.job_execution_id).where(
                ChildExecutionRow.job_execution_id == child_id,
                ChildExecutionRow.current_attempt == attempt,
                ChildExecutionRow.lifecycle == Lifecycle.IN_PROGRESS,
            )
        )
        return result.scalar_one_or_none() is not None

    async def current_attempts(
        self, attempts: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], str | None]:
        """Of the (child, attempt) pairs, those whose attempt is still the child's current one
        and running, each with its parent's stop (CANCELED, TIMED_OUT) or None: the fence
        for many batches in one query."""
        wanted = set(attempts)
        if not wanted:
            return {}
        result = await self._session.execute(
            select(
                ChildExecutionRow.job_execution_id,
                ChildExecutionRow.current_attempt,
                ParentExecutionRow.stop_lifecycle,
            )
            .outerjoin(
                ParentExecutionRow,
                ParentExecutionRow.job_execution_id == ChildExecutionRow.parent_job_execution_id,
            )
            .where(
                ChildExecutionRow.job_execution_id.in_(sorted({child for child, _ in wanted})),
                ChildExecutionRow.lifecycle == Lifecycle.IN_PROGRESS,
            )
        )
        return {
            (child, attempt): stop
            for child, attempt, stop in result.all()
            if (child, attempt) in wanted
        }

    async def save(self, row: ResultSetRow) -> None:
        """One record per child: a later attempt's write replaces the earlier one's, as its
        rows replaced the earlier rows in the destination."""
        await self._session.merge(row)

    async def save_all(self, rows: Sequence[ResultSetRow]) -> None:
        """`save` for many children at once: one DELETE of their earlier records and one
        INSERT, instead of a read and a write per child. Of two rows for the same child, the
        later one is kept."""
        latest = {row.job_execution_id: row for row in rows}
        if not latest:
            return
        await self._session.execute(
            delete(ResultSetRow)
            .where(ResultSetRow.job_execution_id.in_(sorted(latest)))
            .execution_options(synchronize_session=False)
        )
        self._session.add_all(latest.values())
        await self._session.flush()

    async def execution_exists(self, job_execution_id: str) -> bool:
        parent = await self._session.get(ParentExecutionRow, job_execution_id)
        if parent is not None:
            return True
        return await self._session.get(ChildExecutionRow, job_execution_id) is not None

    async def list_for(
        self, job_execution_id: str, *, offset: int, limit: int
    ) -> Sequence[ResultSetRow]:
        result = await self._session.execute(
            select(ResultSetRow)
            .where(
                or_(
                    ResultSetRow.parent_job_execution_id == job_execution_id,
                    ResultSetRow.job_execution_id == job_execution_id,
                )
            )
            .order_by(ResultSetRow.engine, ResultSetRow.server_name, ResultSetRow.database_name)
            .offset(offset)
            .limit(limit)
        )
        return result.scalars().all()
