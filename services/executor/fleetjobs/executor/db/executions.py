"""Child executions, attempts and snapshots: the executor is their only writer.

Every state change of a running attempt is a conditional UPDATE on (child, current attempt,
IN_PROGRESS): a write from an attempt that is no longer current changes nothing and is
reported as fenced (ADR 1; docs/design.md, "State and delivery").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.core.db.models import (
    AttemptRow,
    ChildExecutionRow,
    ExecutionSnapshotRow,
    JobExpansionLockRow,
    ParentExecutionRow,
    WorkerRow,
)
from fleetjobs.core.lifecycle import Lifecycle

# Most children one reconciliation round republishes; the rest wait for the next round.
RECONCILE_LIMIT = 1000


class Begin(Enum):
    RUN = "run"  # attempt recorded: run it
    DROP = "drop"  # nothing to do (terminal, unknown, a duplicate of a live attempt)
    WAIT = "wait"  # a retry whose delay has not passed yet
    ENDED = "ended"  # stopped, or past the job timeout, before the attempt could start


@dataclass(frozen=True)
class BeginOutcome:
    kind: Begin
    child: ChildExecutionRow | None = None
    snapshot: ExecutionSnapshotRow | None = None
    attempt: int = 0
    wait: timedelta = timedelta(0)
    reason: str = ""
    running_elsewhere: bool = False
    # The target session of a dead executor's attempt that this one took over, where the
    # server may still run its statement (`connectors._sessions`); empty when none is known.
    orphaned_session: str = ""
    orphaned_since: datetime | None = None  # when that session's attempt began


class ExecutorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # Expansion.
    async def snapshot(self, parent_id: str) -> ExecutionSnapshotRow | None:
        return await self._session.get(ExecutionSnapshotRow, parent_id)

    async def lock_job_expansions(self, job_name: str) -> None:
        """Takes the job's expansion lock until the transaction ends: the upsert's row lock
        on PostgreSQL; on SQLite, the write lock every writer takes."""
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        statement = insert(JobExpansionLockRow).values(job_name=job_name, expansions=1)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[JobExpansionLockRow.job_name],
                set_={"expansions": JobExpansionLockRow.expansions + 1},
            )
        )

    def add_expansion(
        self, snapshot: ExecutionSnapshotRow, children: Sequence[ChildExecutionRow]
    ) -> None:
        self._session.add(snapshot)
        self._session.add_all(children)

    async def busy_targets(self, job_name: str, target_ids: Sequence[str]) -> dict[str, str]:
        """target id → the parent whose child still runs there, for this job's executions."""
        if not target_ids:
            return {}
        result = await self._session.execute(
            select(ChildExecutionRow.target_id, ChildExecutionRow.parent_job_execution_id).where(
                ChildExecutionRow.job_name == job_name,
                ChildExecutionRow.target_id.in_(list(target_ids)),
                ChildExecutionRow.lifecycle.in_(
                    [Lifecycle.CREATED, Lifecycle.IN_PROGRESS, Lifecycle.WAITING_FOR_RETRY]
                ),
            )
        )
        return dict(result.all())

    async def children_in(
        self, parent_id: str, lifecycles: Sequence[Lifecycle]
    ) -> Sequence[ChildExecutionRow]:
        result = await self._session.execute(
            select(ChildExecutionRow).where(
                ChildExecutionRow.parent_job_execution_id == parent_id,
                ChildExecutionRow.lifecycle.in_([str(x) for x in lifecycles]),
            )
        )
        return result.scalars().all()

    # Attempts.
    async def begin_attempt(
        self,
        child_id: str,
        *,
        worker_id: str,
        now: datetime,
        worker_stale_before: datetime,
        handled_here: bool = False,
    ) -> BeginOutcome:
        """Records the child's next attempt, or says why not. `handled_here` tells whether
        this worker is still handling the child: an attempt of this worker that it no longer
        handles (its handling failed) is taken over like a dead worker's."""
        child = await self._locked_child(child_id)
        if child is None:
            return BeginOutcome(Begin.DROP, reason="unknown child execution")
        lifecycle = Lifecycle(child.lifecycle)
        if lifecycle.terminal:
            return BeginOutcome(Begin.DROP, child=child, reason=f"already {lifecycle.value}")
        snapshot = await self._session.get(ExecutionSnapshotRow, child.parent_job_execution_id)
        if snapshot is None:
            return BeginOutcome(Begin.DROP, child=child, reason="no snapshot")
        exists, stop = await self.parent_stop(child.parent_job_execution_id)
        if not exists:
            # Its execution was removed with a deleted job's history (a child left over from
            # an expansion that raced the removal): nothing may run for it any more.
            return BeginOutcome(Begin.DROP, child=child, reason="its execution no longer exists")
        if stop is None and now >= snapshot.deadline:
            stop = Lifecycle.TIMED_OUT
        if stop is not None:
            current = None
            if lifecycle is Lifecycle.IN_PROGRESS:
                current = await self._attempt(child_id, child.current_attempt)
                if current is not None and await self._still_running(
                    current, worker_id, worker_stale_before, handled_here
                ):
                    # Its worker cancels it and records the end itself.
                    return BeginOutcome(
                        Begin.DROP, child=child, reason="stopping", running_elsewhere=True
                    )
            if not await self._claim(
                child,
                lifecycle=stop,
                message=_stop_message(stop),
                end_time=now,
                next_attempt_at=None,
            ):
                return BeginOutcome(Begin.DROP, child=child, reason="changed meanwhile")
            if current is not None:
                await self._end_attempt(
                    current,
                    lifecycle=stop,
                    message=_stop_message(stop),
                    error_class="canceled",
                    now=now,
                )
            return BeginOutcome(
                Begin.ENDED,
                child=child,
                snapshot=snapshot,
                orphaned_session=(current.session_id or "") if current is not None else "",
                orphaned_since=current.start_time if current is not None else None,
            )
        retry_at = child.next_attempt_at
        if lifecycle is Lifecycle.WAITING_FOR_RETRY and retry_at is not None and retry_at > now:
            return BeginOutcome(Begin.WAIT, child=child, snapshot=snapshot, wait=retry_at - now)
        current = None
        if lifecycle is Lifecycle.IN_PROGRESS:
            current = await self._attempt(child_id, child.current_attempt)
            if current is not None and await self._still_running(
                current, worker_id, worker_stale_before, handled_here
            ):
                # A duplicate delivery while the attempt's worker is alive: it will finish.
                return BeginOutcome(
                    Begin.DROP, child=child, reason="attempt running", running_elsewhere=True
                )
        attempt = child.current_attempt + 1
        if not await self._claim(
            child,
            current_attempt=attempt,
            lifecycle=Lifecycle.IN_PROGRESS,
            next_attempt_at=None,
            start_time=child.start_time or now,
        ):
            return BeginOutcome(Begin.DROP, child=child, reason="changed meanwhile")
        if current is not None:
            await self._end_attempt(
                current,
                lifecycle=Lifecycle.FAILED,
                message=f"executor {current.worker_id} stopped responding during the attempt",
                error_class="worker_lost",
                now=now,
            )
        self._session.add(
            AttemptRow(
                job_task_execution_id=str(uuid.uuid4()),
                job_execution_id=child_id,
                parent_job_execution_id=child.parent_job_execution_id,
                attempt=attempt,
                server_name=child.server_name,
                database_name=child.database_name,
                lifecycle=Lifecycle.IN_PROGRESS,
                message="",
                error_class="",
                messages=[],
                worker_id=worker_id,
                rows_collected=0,
                start_time=now,
            )
        )
        return BeginOutcome(
            Begin.RUN,
            child=child,
            snapshot=snapshot,
            attempt=attempt,
            orphaned_session=(current.session_id or "") if current is not None else "",
            orphaned_since=current.start_time if current is not None else None,
        )

    async def _claim(self, child: ChildExecutionRow, **values: object) -> bool:
        """Writes `values` to the child only if it is still as it was read (lifecycle and
        attempt): SQLite ignores FOR UPDATE, so another executor may have ended the attempt
        (its result outcome) between the read and this write. False when it had."""
        result = await self._session.execute(
            update(ChildExecutionRow)
            .where(
                ChildExecutionRow.job_execution_id == child.job_execution_id,
                ChildExecutionRow.current_attempt == child.current_attempt,
                ChildExecutionRow.lifecycle == child.lifecycle,
            )
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def parent_stop(
        self, parent_id: str, *, hold: bool = False
    ) -> tuple[bool, Lifecycle | None]:
        """Whether the parent exists (a deleted job's history is removed), and its stop.
        `hold` keeps the answer true until the transaction ends: the parent's row is read
        FOR SHARE on PostgreSQL, so the scheduler's stop or removal waits (SQLite renders no
        FOR SHARE; its single writer serialises anyway)."""
        statement = select(ParentExecutionRow.stop_lifecycle).where(
            ParentExecutionRow.job_execution_id == parent_id
        )
        if hold:
            statement = statement.with_for_update(read=True)
        row = (await self._session.execute(statement)).first()
        if row is None:
            return False, None
        return True, Lifecycle(row[0]) if row[0] else None

    async def stop_lifecycle(self, parent_id: str) -> Lifecycle | None:
        """CANCELED or TIMED_OUT once the scheduler stopped the parent (its row, read here)."""
        result = await self._session.execute(
            select(ParentExecutionRow.stop_lifecycle).where(
                ParentExecutionRow.job_execution_id == parent_id
            )
        )
        stop = result.scalar_one_or_none()
        return Lifecycle(stop) if stop else None

    async def _attempt(self, child_id: str, attempt: int) -> AttemptRow | None:
        result = await self._session.execute(
            select(AttemptRow).where(
                AttemptRow.job_execution_id == child_id, AttemptRow.attempt == attempt
            )
        )
        return result.scalar_one_or_none()

    async def _still_running(
        self, attempt: AttemptRow, worker_id: str, stale_before: datetime, handled_here: bool
    ) -> bool:
        if attempt.worker_id == worker_id:
            return handled_here
        return await self._worker_alive(attempt.worker_id, stale_before)

    async def _worker_alive(self, worker_id: str, stale_before: datetime) -> bool:
        worker = await self._session.get(WorkerRow, worker_id)
        return worker is not None and worker.heartbeat_time >= stale_before

    async def _end_attempt(
        self,
        attempt: AttemptRow,
        *,
        lifecycle: Lifecycle,
        message: str,
        error_class: str,
        now: datetime,
    ) -> None:
        attempt.lifecycle = lifecycle
        attempt.message = message
        attempt.error_class = error_class
        attempt.end_time = now

    async def _fenced_child_update(self, child_id: str, attempt: int, **values: object) -> bool:
        result = await self._session.execute(
            update(ChildExecutionRow)
            .where(
                ChildExecutionRow.job_execution_id == child_id,
                ChildExecutionRow.current_attempt == attempt,
                ChildExecutionRow.lifecycle == Lifecycle.IN_PROGRESS,
            )
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _update_attempt(self, child_id: str, attempt: int, **values: object) -> None:
        await self._session.execute(
            update(AttemptRow)
            .where(AttemptRow.job_execution_id == child_id, AttemptRow.attempt == attempt)
            .values(**values)
        )

    async def record_session(self, child_id: str, attempt: int, session_id: str) -> None:
        await self._update_attempt(child_id, attempt, session_id=session_id)

    async def record_success(
        self, child_id: str, attempt: int, *, rows: int, messages: list[str], now: datetime
    ) -> bool:
        if not await self._fenced_child_update(
            child_id, attempt, lifecycle=Lifecycle.SUCCEEDED, message="", end_time=now
        ):
            return False
        await self._update_attempt(
            child_id,
            attempt,
            lifecycle=Lifecycle.SUCCEEDED,
            rows_collected=rows,
            messages=messages,
            end_time=now,
        )
        return True

    async def release_lost_attempt(
        self, child_id: str, attempt: int, *, worker_id: str, now: datetime
    ) -> ChildExecutionRow | None:
        """Ends attempt `attempt` of this worker, whose result batch or outcome the broker
        lost, and makes the child due for its next attempt at once; returns the child, or
        None when the attempt is no longer current (its outcome arrived meanwhile)."""
        current = await self._attempt(child_id, attempt)
        if current is None or current.worker_id != worker_id:
            return None
        message = "the broker lost this attempt's result; the script runs again"
        if not await self._fenced_child_update(
            child_id,
            attempt,
            lifecycle=Lifecycle.WAITING_FOR_RETRY,
            message=message,
            next_attempt_at=now,
        ):
            return None
        await self._end_attempt(
            current, lifecycle=Lifecycle.FAILED, message=message, error_class="result_lost", now=now
        )
        return await self._session.get(ChildExecutionRow, child_id)

    async def record_failure(
        self,
        child_id: str,
        attempt: int,
        *,
        child_lifecycle: Lifecycle,
        message: str,
        error_class: str,
        messages: list[str],
        retry_at: datetime | None,
        now: datetime,
        attempt_lifecycle: Lifecycle = Lifecycle.FAILED,
    ) -> Lifecycle | None:
        """The child's lifecycle after the failure, or None when the attempt was fenced. The
        attempt ends `attempt_lifecycle`, or its execution's stop (CANCELED, TIMED_OUT)."""
        stop = await self.stop_lifecycle(await self._parent_id(child_id))
        if stop is not None:
            # Whatever the attempt died of, its execution was stopped: that is the end.
            child_lifecycle, retry_at = stop, None
        terminal = child_lifecycle.terminal
        if not await self._fenced_child_update(
            child_id,
            attempt,
            lifecycle=child_lifecycle,
            message=message,
            next_attempt_at=retry_at,
            end_time=now if terminal else None,
        ):
            return None
        await self._update_attempt(
            child_id,
            attempt,
            lifecycle=stop or attempt_lifecycle,
            message=message,
            error_class=error_class,
            messages=messages,
            end_time=now,
        )
        return child_lifecycle

    async def _locked_child(self, child_id: str) -> ChildExecutionRow | None:
        """The child's row, locked until the transaction ends (FOR UPDATE)."""
        return (
            await self._session.execute(
                select(ChildExecutionRow)
                .where(ChildExecutionRow.job_execution_id == child_id)
                .with_for_update()
            )
        ).scalar_one_or_none()

    async def fail_unhandled(
        self, child_id: str, *, message: str, error_class: str, now: datetime
    ) -> str | None:
        """Ends a child whose task could not be handled at all (a fault of fleetjobs, not of
        its database): FAILED with `message`, and its running attempt with it. Returns its
        parent's id, or None when it had ended or is unknown."""
        child = await self._locked_child(child_id)
        if child is None or Lifecycle(child.lifecycle).terminal:
            return None
        child.lifecycle = Lifecycle.FAILED
        child.message = message
        child.next_attempt_at = None
        child.end_time = now
        await self._session.execute(
            update(AttemptRow)
            .where(
                AttemptRow.job_execution_id == child_id,
                AttemptRow.attempt == child.current_attempt,
                AttemptRow.lifecycle == Lifecycle.IN_PROGRESS,
            )
            .values(
                lifecycle=Lifecycle.FAILED, message=message, error_class=error_class, end_time=now
            )
        )
        return child.parent_job_execution_id

    async def record_result_outcome(
        self,
        child_id: str,
        attempt: int,
        *,
        ok: bool,
        rows: int,
        message: str,
        messages: list[str],
        now: datetime,
    ) -> bool:
        if ok:
            return await self.record_success(
                child_id, attempt, rows=rows, messages=messages, now=now
            )
        ended = await self.record_failure(
            child_id,
            attempt,
            child_lifecycle=Lifecycle.FAILED,
            message=message,
            error_class="result_destination",
            messages=messages,
            retry_at=None,
            now=now,
        )
        return ended is not None

    async def _parent_id(self, child_id: str) -> str:
        return await self.parent_of(child_id) or ""

    async def parent_of(self, child_id: str) -> str | None:
        child = await self._session.get(ChildExecutionRow, child_id)
        return child.parent_job_execution_id if child is not None else None

    # Stops.
    async def end_unstarted_children(
        self, parent_id: str, stop: Lifecycle, *, now: datetime
    ) -> int:
        """Children of a stopped parent that are not running end now; returns how many."""
        result = await self._session.execute(
            update(ChildExecutionRow)
            .where(
                ChildExecutionRow.parent_job_execution_id == parent_id,
                ChildExecutionRow.lifecycle.in_([Lifecycle.CREATED, Lifecycle.WAITING_FOR_RETRY]),
            )
            .values(lifecycle=stop, message=_stop_message(stop), end_time=now, next_attempt_at=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def stopping_parents(self) -> list[tuple[str, Lifecycle]]:
        """Parents the scheduler stopped that have not ended yet."""
        result = await self._session.execute(
            select(ParentExecutionRow.job_execution_id, ParentExecutionRow.stop_lifecycle)
            .where(
                ParentExecutionRow.stop_lifecycle.is_not(None),
                ParentExecutionRow.active.is_(True),
            )
            .limit(500)
        )
        return [(parent_id, Lifecycle(stop)) for parent_id, stop in result.all() if stop]

    # Reconciliation: children that should be moving but are not.
    async def created_before(self, before: datetime) -> Sequence[ChildExecutionRow]:
        return await self._children_where(
            ChildExecutionRow.lifecycle == Lifecycle.CREATED,
            ChildExecutionRow.create_time < before,
        )

    async def retries_due_before(self, before: datetime) -> Sequence[ChildExecutionRow]:
        return await self._children_where(
            ChildExecutionRow.lifecycle == Lifecycle.WAITING_FOR_RETRY,
            ChildExecutionRow.next_attempt_at < before,
        )

    async def _children_where(
        self, *conditions: ColumnElement[bool]
    ) -> Sequence[ChildExecutionRow]:
        result = await self._session.execute(
            select(ChildExecutionRow).where(*conditions).limit(RECONCILE_LIMIT)
        )
        return result.scalars().all()

    async def claim_republish(
        self, children: Sequence[ChildExecutionRow], *, now: datetime, claimed_before: datetime
    ) -> list[ChildExecutionRow]:
        """Of these stuck children, those no reconciler republished since `claimed_before`,
        now marked as republished by this one. Every executor reconciles; the claim makes
        one of them republish a child per round, not each of them."""
        if not children:
            return []
        result = await self._session.execute(
            update(ChildExecutionRow)
            .where(
                ChildExecutionRow.job_execution_id.in_([c.job_execution_id for c in children]),
                (ChildExecutionRow.republish_time.is_(None))
                | (ChildExecutionRow.republish_time < claimed_before),
            )
            # Not a change a watcher should see: update_time keeps its value.
            .values(republish_time=now, update_time=ChildExecutionRow.update_time)
            .returning(ChildExecutionRow.job_execution_id)
            .execution_options(synchronize_session=False)
        )
        claimed = set(result.scalars().all())
        return [child for child in children if child.job_execution_id in claimed]

    async def orphaned_attempts(
        self, *, started_before: datetime, workers_stale_before: datetime
    ) -> Sequence[ChildExecutionRow]:
        """IN_PROGRESS children whose current attempt's worker is gone or stale."""
        result = await self._session.execute(
            select(ChildExecutionRow)
            .join(
                AttemptRow,
                (AttemptRow.job_execution_id == ChildExecutionRow.job_execution_id)
                & (AttemptRow.attempt == ChildExecutionRow.current_attempt),
            )
            .outerjoin(WorkerRow, WorkerRow.worker_id == AttemptRow.worker_id)
            .where(
                ChildExecutionRow.lifecycle == Lifecycle.IN_PROGRESS,
                AttemptRow.start_time < started_before,
                (WorkerRow.worker_id.is_(None)) | (WorkerRow.heartbeat_time < workers_stale_before),
            )
            .limit(RECONCILE_LIMIT)
        )
        return result.scalars().all()

    async def attempts_of_worker(
        self, worker_id: str, *, started_before: datetime
    ) -> list[tuple[str, int]]:
        """(child, attempt) of the IN_PROGRESS children whose current attempt is this
        worker's and began before `started_before`."""
        result = await self._session.execute(
            select(ChildExecutionRow.job_execution_id, ChildExecutionRow.current_attempt)
            .join(
                AttemptRow,
                (AttemptRow.job_execution_id == ChildExecutionRow.job_execution_id)
                & (AttemptRow.attempt == ChildExecutionRow.current_attempt),
            )
            .where(
                ChildExecutionRow.lifecycle == Lifecycle.IN_PROGRESS,
                AttemptRow.worker_id == worker_id,
                AttemptRow.start_time < started_before,
            )
            .limit(RECONCILE_LIMIT)
        )
        return [(child, attempt) for child, attempt in result.all()]

    # Workers.
    async def heartbeat(
        self, *, worker_id: str, host: str, started: datetime, in_flight: int, now: datetime
    ) -> None:
        worker = await self._session.get(WorkerRow, worker_id)
        if worker is None:
            self._session.add(
                WorkerRow(
                    worker_id=worker_id,
                    host=host,
                    started_time=started,
                    tasks_in_flight=in_flight,
                    heartbeat_time=now,
                )
            )
        else:
            worker.tasks_in_flight = in_flight
            worker.heartbeat_time = now

    async def remove_worker(self, worker_id: str) -> None:
        await self._session.execute(delete(WorkerRow).where(WorkerRow.worker_id == worker_id))

    async def live_workers(self, alive_after: datetime) -> Sequence[WorkerRow]:
        result = await self._session.execute(
            select(WorkerRow)
            .where(WorkerRow.heartbeat_time >= alive_after)
            .order_by(WorkerRow.started_time)
        )
        return result.scalars().all()


def _stop_message(stop: Lifecycle) -> str:
    if stop is Lifecycle.TIMED_OUT:
        return "the job timeout passed before this database finished"
    return "the execution was stopped before this database finished"
