"""Folds the executor's child events into parent lifecycles, a batch at a time: however many
children of one parent changed in a batch, the parent is recomputed once."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.db import utcnow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.logs import log_unexpected, type_name
from fleetjobs.core.messaging import is_transient
from fleetjobs.events.v1 import events_pb2
from fleetjobs.scheduler.db.executions import ExecutionReadModel, ParentRepository
from fleetjobs.scheduler.domain.folding import fold_children
from fleetjobs.scheduler.events.notifier import ChangeNotifier

log = logging.getLogger(__name__)


class ParentFolder:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], notifier: ChangeNotifier
    ) -> None:
        self._sessions = sessions
        self._notifier = notifier

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        expansions: dict[str, events_pb2.Expanded] = {}
        parents: list[str] = []
        folded: list[Msg] = []
        for message in messages:
            try:
                event = events_pb2.ExecutionEvent.FromString(message.data)
            except DecodeError:
                # It can never be folded; redelivering it would block every batch it is in.
                log.error("undecodable execution event dropped")
                await message.term()
                continue
            folded.append(message)
            if event.parent_job_execution_id not in parents:
                parents.append(event.parent_job_execution_id)
            if event.HasField("expanded"):
                expansions[event.parent_job_execution_id] = event.expanded
        try:
            async with self._sessions() as session:
                # In id order, the order the results service locks parents in while it
                # commits rows (FOR SHARE): two transactions taking the same rows in one
                # order never deadlock.
                for parent_id in sorted(parents):
                    await self._fold(session, parent_id, expansions.get(parent_id))
                await session.commit()
        except Exception as error:
            if is_transient(error):
                raise  # the control database is away: the batch comes back
            await self._fold_each_alone(sorted(parents), expansions)
        # Acknowledge only after the fold is committed: a crash before it redelivers.
        for message in folded:
            await message.ack()
        for parent_id in parents:
            self._notifier.notify(parent_id)

    async def _fold_each_alone(
        self, parent_ids: Sequence[str], expansions: dict[str, events_pb2.Expanded]
    ) -> None:
        """After a batch failed by a fault of its own data or of fleetjobs: each parent is
        folded in a transaction of its own, so one parent's fault holds up no other, and a
        parent whose fold fails again ends FAILED with the reason (its type only, see
        `fleetjobs.core.logs._unexpected`) instead of its events coming back forever."""
        for parent_id in parent_ids:
            try:
                async with self._sessions() as session:
                    await self._fold(session, parent_id, expansions.get(parent_id))
                    await session.commit()
            except Exception as error:
                if is_transient(error):
                    raise
                log_unexpected(log, "folding an execution failed inside fleetjobs", error)
                await self._fail(parent_id, error)

    async def _fail(self, parent_id: str, error: BaseException) -> None:
        async with self._sessions() as session:
            parents = ParentRepository(session)
            parent = await parents.get(parent_id)
            if parent is None or Lifecycle(parent.lifecycle).terminal:
                return
            await parents.set_state(
                parent_id,
                lifecycle=Lifecycle.FAILED,
                message=(
                    f"internal error in fleetjobs while folding its children's state "
                    f"({type_name(error)}); the scheduler's log says where it was raised"
                ),
                counts=dict(parent.counts or {}),  # the last ones folded, kept
                end_time=utcnow(),
            )
            await session.commit()

    async def fold_parent(self, parent_id: str) -> None:
        """Folds one parent (the reconciler's round); a fault of its own ends it FAILED
        rather than failing every round, and every other parent's fold with it."""
        await self._fold_each_alone([parent_id], {})
        self._notifier.notify(parent_id)

    async def _fold(
        self, session: AsyncSession, parent_id: str, expanded: events_pb2.Expanded | None
    ) -> None:
        parents = ParentRepository(session)
        parent = await parents.get(parent_id)
        if parent is None or Lifecycle(parent.lifecycle).terminal:
            return
        now = utcnow()
        if expanded is not None and expanded.error:
            await parents.set_state(
                parent_id,
                lifecycle=Lifecycle.FAILED,
                message=expanded.error,
                counts={},
                end_time=now,
            )
            return
        read = ExecutionReadModel(session)
        snapshot = await read.snapshot(parent_id)
        if snapshot is None:
            return  # not expanded yet: its children do not exist
        counts = await read.child_counts(parent_id)
        total = sum(counts.values())
        outcome = fold_children(counts)
        started = parent.start_time or now
        if outcome is None:
            await parents.set_state(
                parent_id,
                lifecycle=Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS,
                message=parent.message,
                counts=counts,
                child_count=total,
                content_version=snapshot.content_version,
                start_time=started,
            )
        else:
            await parents.set_state(
                parent_id,
                lifecycle=outcome.lifecycle,
                message=outcome.message,
                counts=counts,
                child_count=total,
                content_version=snapshot.content_version,
                start_time=started,
                end_time=now,
            )
            log.info(
                "execution finished",
                extra={"job_execution_id": parent_id, "lifecycle": outcome.lifecycle.value},
            )
