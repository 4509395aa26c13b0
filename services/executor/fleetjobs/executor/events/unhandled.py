"""A message whose handling failed for good ends its own work, visibly, and nothing else's.

The broker or the control database being away is worth a redelivery: the same message
succeeds once they are back. Any other exception escaping a handler (a bug, a value nothing
expected, such as a policy stored before durations were bounded) would fail the same way on
every redelivery, forever, while its execution looked CREATED or IN_PROGRESS. Instead:

- a start message: its execution ends FAILED (the scheduler records the expansion error);
- a task message, or a result outcome: its child ends FAILED with error class `internal`;

then the message is acknowledged and the consumer goes on. The reason names the exception's
type only: what an exception says may carry connection arguments (`internal_errors`).
"""

from __future__ import annotations

import logging

from nats.aio.msg import Msg

from fleetjobs.core.clients import CatalogUnavailableError
from fleetjobs.core.db import utcnow
from fleetjobs.core.messaging import is_transient
from fleetjobs.events.v1 import events_pb2
from fleetjobs.executor.db.group_commit import GroupCommit
from fleetjobs.executor.domain.policy import INTERNAL
from fleetjobs.executor.events.internal_errors import internal_failure, log_internal_failure
from fleetjobs.executor.events.publisher import ExecutorPublisher

log = logging.getLogger(__name__)


def worth_redelivery(error: BaseException) -> bool:
    """True when `error` says the broker, the control database or the catalog is away."""
    return is_transient(error, CatalogUnavailableError)


def start_failure_reason(error: BaseException) -> str:
    return f"the execution could not be started: {internal_failure(error).message}"


async def end_start(
    publisher: ExecutorPublisher, message: Msg, parent_id: str, error: BaseException
) -> None:
    """Fails the execution whose start message raised `error`, then acknowledges it."""
    log_internal_failure(log, error)
    await publisher.expanded(
        parent_id, child_count=0, content_version=0, error=start_failure_reason(error)
    )
    log.error("start handling failed inside fleetjobs; the execution ends FAILED")
    await message.ack()


async def end_task(
    writes: GroupCommit,
    publisher: ExecutorPublisher,
    message: Msg,
    task: events_pb2.Task,
    error: BaseException,
) -> None:
    """Fails the child whose task message raised `error`, then acknowledges it."""
    await end_child(writes, publisher, message, task.job_execution_id, error, what="task")


async def end_child(
    writes: GroupCommit,
    publisher: ExecutorPublisher,
    message: Msg,
    child_id: str,
    error: BaseException,
    *,
    what: str,
) -> None:
    """Fails child `child_id`, whose `what` message (a task, a result outcome) raised
    `error`, with error class `internal`; then acknowledges the message."""
    log_internal_failure(log, error)
    reason = internal_failure(error).message
    parent_id = await writes.run(
        lambda repository: repository.fail_unhandled(
            child_id, message=reason, error_class=INTERNAL, now=utcnow()
        )
    )
    if parent_id is not None:
        publisher.parent_changed(parent_id)
    log.error(f"{what} handling failed inside fleetjobs; the child ends FAILED")
    await message.ack()
