"""GroupCommit against a real PostgreSQL control database: a batch that deadlocks with
another transaction runs again instead of failing every task in it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import psycopg

from fleetjobs.core.db import make_async_engine, make_session_factory, utcnow
from fleetjobs.core.db.models import ChildExecutionRow
from fleetjobs.executor.db.executions import ExecutorRepository
from fleetjobs.executor.db.group_commit import GroupCommit
from fleetjobs.testing._control_rows import child_row, snapshot_row


def test_a_deadlocked_batch_runs_again(postgres_control_db: str) -> None:
    async def scenario() -> None:
        engine = make_async_engine(postgres_control_db)
        sessions = make_session_factory(engine)
        now = utcnow()
        parent = str(uuid.uuid4())
        first, second = child_row(parent, "deadlocks", now), child_row(parent, "deadlocks", now)
        async with sessions() as session:
            ExecutorRepository(session).add_expansion(
                snapshot_row(parent, "deadlocks", now),
                [first, second],
            )
            await session.commit()

        other = await psycopg.AsyncConnection.connect(
            postgres_control_db.replace("postgresql+psycopg", "postgresql")
        )
        runs = 0

        def claim(child: ChildExecutionRow):  # type: ignore[no-untyped-def]
            async def operation(repository: ExecutorRepository) -> None:
                nonlocal runs
                runs += 1
                claimed = await repository.claim_republish(
                    [child], now=now, claimed_before=now - timedelta(minutes=1)
                )
                assert claimed == [child]

            return operation

        try:
            # Long, so that PostgreSQL's deadlock check fires in the batch, which waits first.
            await other.execute("SET deadlock_timeout = '30s'")
            # Another transaction holds the second child; the batch locks the first, then
            # waits for the second; the other transaction then wants the first: a deadlock.
            await other.execute(
                "UPDATE child_executions SET message = 'other' WHERE job_execution_id = %s",
                (second.job_execution_id,),
            )
            writes = GroupCommit(sessions)
            batch = asyncio.gather(writes.run(claim(first)), writes.run(claim(second)))
            await asyncio.sleep(0.5)  # the batch now waits for the second child
            await other.execute(
                "UPDATE child_executions SET message = 'other' WHERE job_execution_id = %s",
                (first.job_execution_id,),
            )
            await other.commit()
            await asyncio.wait_for(batch, timeout=60)
            await writes.close()
        finally:
            await other.close()
        async with sessions() as session:
            rows = [
                await session.get(ChildExecutionRow, c.job_execution_id) for c in (first, second)
            ]
        await engine.dispose()
        # The other transaction committed, and so did the batch, on its second run.
        assert [(row.message, row.republish_time is not None) for row in rows if row] == [
            ("other", True),
            ("other", True),
        ]
        assert runs == 4

    asyncio.run(scenario())
