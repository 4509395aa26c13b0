"""Races between executor replicas that the control database settles, on both control
database engines: expansions of one job take turns (so overlap detection sees the earlier
execution's children), and one reconciler, not every replica, republishes a stuck child."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.db import make_async_engine, make_session_factory, utcnow
from fleetjobs.core.db.models import ChildExecutionRow
from fleetjobs.executor.db.executions import Begin, ExecutorRepository
from fleetjobs.testing._control_rows import child_row, snapshot_row

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(params=["sqlite", "postgresql"])
def control_db_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_control_db" if request.param == "sqlite" else "postgres_control_db"
    return str(request.getfixturevalue(fixture))


def _run(control_db_url: str, scenario: Callable[[Sessions], Awaitable[None]]) -> None:
    async def main() -> None:
        engine = make_async_engine(control_db_url)
        try:
            await scenario(make_session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_expansions_of_one_job_take_turns(control_db_url: str) -> None:
    job_name = f"job-{uuid.uuid4().hex[:8]}"
    targets = [str(uuid.uuid4()) for _ in range(3)]
    first_parent = str(uuid.uuid4())

    async def scenario(sessions: Sessions) -> None:
        now = utcnow()
        async with sessions() as first:
            repository = ExecutorRepository(first)
            await repository.lock_job_expansions(job_name)
            assert await repository.busy_targets(job_name, targets) == {}
            repository.add_expansion(
                snapshot_row(first_parent, job_name, now),
                [child_row(first_parent, job_name, now, target_id=target) for target in targets],
            )
            await first.flush()

            async def second_expansion() -> dict[str, str]:
                async with sessions() as second:
                    other = ExecutorRepository(second)
                    await other.lock_job_expansions(job_name)
                    return await other.busy_targets(job_name, targets)

            second = asyncio.create_task(second_expansion())
            await asyncio.sleep(0.5)
            # Without the lock, the second would already have read "nothing busy" here.
            assert not second.done(), "the second expansion did not wait for the first"
            await first.commit()
        busy = await asyncio.wait_for(second, timeout=30)
        assert busy == {target: first_parent for target in targets}

    _run(control_db_url, scenario)


def test_one_reconciler_republishes_a_stuck_child(control_db_url: str) -> None:
    job_name = f"job-{uuid.uuid4().hex[:8]}"
    parent = str(uuid.uuid4())
    lost_after = timedelta(seconds=60)

    async def scenario(sessions: Sessions) -> None:
        created = utcnow() - timedelta(minutes=10)
        stuck = child_row(parent, job_name, created)
        async with sessions() as session:
            repository = ExecutorRepository(session)
            repository.add_expansion(snapshot_row(parent, job_name, created), [stuck])
            await session.commit()
        async with sessions() as session:
            before = await session.get(ChildExecutionRow, stuck.job_execution_id)
            assert before is not None
            update_time = before.update_time

        async def reconcile(now: datetime) -> list[str]:
            async with sessions() as session:
                repository = ExecutorRepository(session)
                found = await repository.created_before(now - lost_after)
                mine = [c for c in found if c.job_execution_id == stuck.job_execution_id]
                claimed = await repository.claim_republish(
                    mine, now=now, claimed_before=now - lost_after
                )
                await session.commit()
            return [c.job_execution_id for c in claimed]

        now = utcnow()
        # Two replicas in the same round: one republishes.
        assert await reconcile(now) == [stuck.job_execution_id]
        assert await reconcile(now + timedelta(seconds=1)) == []
        # Still stuck a lost-after later: republished again, once.
        later = now + lost_after + timedelta(seconds=1)
        assert await reconcile(later) == [stuck.job_execution_id]
        assert await reconcile(later) == []
        async with sessions() as session:
            after = await session.get(ChildExecutionRow, stuck.job_execution_id)
            assert after is not None
            # A claim is no change a watcher should be woken for.
            assert after.update_time == update_time
            assert after.republish_time is not None

    _run(control_db_url, scenario)


def test_a_child_whose_execution_was_removed_never_runs(control_db_url: str) -> None:
    """A child left over from an expansion that raced the removal of a deleted job's
    history: its parent row is gone, so no attempt begins."""
    job_name = f"job-{uuid.uuid4().hex[:8]}"
    parent = str(uuid.uuid4())  # never recorded by a scheduler

    async def scenario(sessions: Sessions) -> None:
        now = utcnow()
        orphan = child_row(parent, job_name, now)
        async with sessions() as session:
            ExecutorRepository(session).add_expansion(snapshot_row(parent, job_name, now), [orphan])
            await session.commit()
        async with sessions() as session:
            repository = ExecutorRepository(session)
            assert await repository.parent_stop(parent) == (False, None)
            begin = await repository.begin_attempt(
                orphan.job_execution_id,
                worker_id="w",
                now=now,
                worker_stale_before=now - timedelta(seconds=20),
            )
            await session.commit()
        assert begin.kind is Begin.DROP and begin.reason == "its execution no longer exists"

    _run(control_db_url, scenario)
