"""Result outcomes (results → executor): a child is SUCCEEDED only once its rows are
committed in the destination (ADR 1)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from fleetjobs.core.db import utcnow
from fleetjobs.events.v1 import events_pb2
from fleetjobs.executor.connectors import (
    MAX_ERROR_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGES,
    MAX_ONE_MESSAGE_BYTES,
    MessageCollector,
    bounded_text,
)
from fleetjobs.executor.db.executions import ExecutorRepository
from fleetjobs.executor.db.group_commit import GroupCommit
from fleetjobs.executor.events.publisher import ExecutorPublisher
from fleetjobs.executor.events.unhandled import end_child, worth_redelivery

log = logging.getLogger(__name__)


class OutcomeRecorder:
    def __init__(
        self,
        writes: GroupCommit,
        publisher: ExecutorPublisher,
        *,
        on_outcome: Callable[[str], None],
    ) -> None:
        self._writes = writes
        self._publisher = publisher
        self._on_outcome = on_outcome

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        await asyncio.gather(*(self._record(message) for message in messages))

    async def _end_unhandled(self, message: Msg, child_id: str, error: BaseException) -> None:
        """A fault no redelivery cures ends the child FAILED (`internal`) rather than leaving it
        awaiting its outcome forever; if even that cannot be written, the outcome comes back."""
        try:
            await end_child(self._writes, self._publisher, message, child_id, error, what="outcome")
        except Exception:
            log.warning("could not end an unhandled outcome; redelivered later", exc_info=False)
            with contextlib.suppress(Exception):
                await message.nak(delay=2.0)

    async def _record(self, message: Msg) -> None:
        try:
            outcome = events_pb2.ResultOutcome.FromString(message.data)
        except DecodeError:
            # It can never be recorded; redelivering it would fail its batch forever.
            log.error("undecodable result outcome dropped")
            await message.term()
            return
        self._on_outcome(outcome.job_execution_id)

        async def record(repository: ExecutorRepository) -> str | None:
            """The parent's id when the outcome was current, else None (fenced)."""
            current = await repository.record_result_outcome(
                outcome.job_execution_id,
                outcome.attempt,
                ok=outcome.ok,
                rows=outcome.rows_collected or outcome.rows_written,
                message=bounded_text(outcome.message, MAX_ERROR_BYTES),
                messages=_bounded(outcome.messages),
                now=utcnow(),
            )
            if not current:
                return None
            return outcome.parent_job_execution_id or await repository.parent_of(
                outcome.job_execution_id
            )

        try:
            parent_id = await self._writes.run(record)
        except Exception as error:
            if not worth_redelivery(error):
                await self._end_unhandled(message, outcome.job_execution_id, error)
                return
            log.exception("recording a result outcome failed; redelivered later")
            await message.nak(delay=2.0)
            return
        if parent_id is None:
            log.info(
                "outcome of a superseded attempt ignored",
                extra={"job_execution_id": outcome.job_execution_id},
            )
        else:
            self._publisher.parent_changed(parent_id)
        await message.ack()


def _bounded(messages: Sequence[str]) -> list[str]:
    """The outcome's messages (the attempt's, echoed by the results service) within the
    per-task cap, whatever sent them. Room for one line more: a capped attempt's messages end
    with the line saying how many were dropped, which is kept."""
    collector = MessageCollector(
        max_messages=MAX_MESSAGES + 1, max_bytes=MAX_MESSAGE_BYTES + MAX_ONE_MESSAGE_BYTES
    )
    collector.extend(messages)
    return collector.messages()
