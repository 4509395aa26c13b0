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
        self, attempts: Iterable[tuple[str, int]], *, hold: bool = False
    ) -> dict[tuple[str, int], str | None]:
        """Of the (child, attempt) pairs, those whose attempt is still the child's current one
        and running, each with its parent's stop (CANCELED, TIMED_OUT) or None: the fence
        for many batches in one query.

        `hold`: the answer must stay true until the session's transaction ends, so that rows
        committed elsewhere meanwhile are not committed after a stop. On PostgreSQL the
        parents' and the children's rows are read FOR SHARE: the scheduler's stop, the
        executor's next attempt or end of the child wait for this transaction. SQLite has one
        writer at a time, so there the caller must have written in this transaction first
        (it then holds the write lock, and the read sees the last commit)."""
        wanted = set(attempts)
        if not wanted:
            return {}
        children = sorted({child for child, _ in wanted})
        lock = hold and self._session.get_bind().dialect.name == "postgresql"
        if lock:
            # Parents first, in id order, then children in id order: every holder takes them
            # in the same order. A separate statement, because the fence's outer join cannot
            # lock its nullable side.
            await self._session.execute(
                select(ParentExecutionRow.job_execution_id)
                .where(
                    ParentExecutionRow.job_execution_id.in_(
                        select(ChildExecutionRow.parent_job_execution_id).where(
                            ChildExecutionRow.job_execution_id.in_(children)
                        )
                    )
                )
                .order_by(ParentExecutionRow.job_execution_id)
                .with_for_update(read=True)
            )
        statement = (
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
                ChildExecutionRow.job_execution_id.in_(children),
                ChildExecutionRow.lifecycle == Lifecycle.IN_PROGRESS,
            )
        )
        if lock:
            statement = statement.order_by(ChildExecutionRow.job_execution_id).with_for_update(
                read=True, of=ChildExecutionRow
            )
        result = await self._session.execute(statement)
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
