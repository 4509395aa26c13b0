"""Start messages → a snapshot of the job, one child per database, one task per child."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.clients import CatalogClient, CatalogUnavailableError, DefinitionNotFound
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ChildExecutionRow, ExecutionSnapshotRow
from fleetjobs.core.grpc import duration_ms, duration_problem, message_to_json
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.logs import bind_context
from fleetjobs.events.v1 import events_pb2
from fleetjobs.executor.db.executions import ExecutorRepository
from fleetjobs.executor.domain.expansion import DatabaseToRun, ExpansionError, expand_target
from fleetjobs.executor.domain.policy import EffectivePolicy
from fleetjobs.executor.events.publisher import ExecutorPublisher
from fleetjobs.executor.events.unhandled import end_start, worth_redelivery
from fleetjobs.v1 import catalog_resources_pb2 as resources

log = logging.getLogger(__name__)

CATALOG_RETRY_SECONDS = 2.0


def effective_policy(policy: resources.ExecutionPolicy, name: str) -> EffectivePolicy:
    """The catalog returns effective values (unset fields already filled from `default`).
    A duration stored before durations were bounded fails the execution, saying which: its
    deadline or retry times would not fit a clock."""
    for field in ("job_timeout", "initial_retry_interval", "maximum_retry_interval"):
        problem = duration_problem(getattr(policy, field))
        if problem is not None:
            raise ExpansionError(
                f"execution policy {name or 'default'!r}: {field} {problem}; "
                "update the policy (UpdateExecutionPolicy) and start the job again"
            )
    return EffectivePolicy(
        job_timeout_ms=duration_ms(policy.job_timeout),
        initial_retry_interval_ms=duration_ms(policy.initial_retry_interval),
        maximum_retry_interval_ms=duration_ms(policy.maximum_retry_interval),
        retry_interval_backoff_coefficient=policy.retry_interval_backoff_coefficient,
        maximum_attempts=policy.maximum_attempts,
        non_retryable_error_classes=tuple(policy.non_retryable_error_classes),
    )


def destination_json(job: resources.Job) -> dict[str, object] | None:
    if not job.HasField("result_destination"):
        return None
    return message_to_json(job.result_destination)


class Expander:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: CatalogClient,
        publisher: ExecutorPublisher,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._publisher = publisher

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        for message in messages:
            try:
                start = events_pb2.StartExecution.FromString(message.data)
            except DecodeError:
                log.error("undecodable start dropped")
                await message.term()
                continue
            with bind_context(job_execution_id=start.job_execution_id):
                try:
                    await self.expand(start)
                except CatalogUnavailableError as error:
                    log.warning("catalog unavailable; start retried", extra={"error": str(error)})
                    await message.nak(delay=CATALOG_RETRY_SECONDS)
                    continue
                except Exception as error:
                    if worth_redelivery(error):
                        raise  # the broker or the control database: the pull loop waits
                    await end_start(self._publisher, message, start.job_execution_id, error)
                    continue
            await message.ack()

    async def expand(self, start: events_pb2.StartExecution) -> None:
        parent_id = start.job_execution_id
        async with self._sessions() as session:
            repository = ExecutorRepository(session)
            snapshot = await repository.snapshot(parent_id)
            exists, stopped = await repository.parent_stop(parent_id)
        if not exists:
            # The scheduler records a parent before it publishes its start: this one was
            # removed since, with a deleted job's history (a late redelivery).
            log.info("start of an execution that no longer exists dropped")
            return
        if snapshot is None and stopped is not None:
            log.info("stopped before it was expanded")
            return
        if snapshot is None:
            try:
                snapshot, job, databases = await self._snapshot(start)
            except (DefinitionNotFound, ExpansionError) as error:
                log.info("expansion failed", extra={"error": str(error)})
                await self._publisher.expanded(
                    parent_id, child_count=0, content_version=0, error=str(error)
                )
                return
            # A redelivered start that raced us fails on the snapshot's key: the other
            # expansion stands.
            with contextlib.suppress(IntegrityError):
                if not await self._record_expansion(start, snapshot, job, databases):
                    return
        # Publish (again) every child not yet started: after a crash between the commit
        # and the publishes, the redelivered start completes the job. Msg ids drop repeats.
        async with self._sessions() as session:
            repository = ExecutorRepository(session)
            snapshot = await repository.snapshot(parent_id)
            pending = await repository.children_in(parent_id, [Lifecycle.CREATED])
        assert snapshot is not None
        for child in pending:
            await self._publisher.task(child)
        await self._publisher.expanded(
            parent_id, child_count=len(pending), content_version=snapshot.content_version
        )
        log.info("expanded", extra={"children": len(pending)})

    async def _snapshot(
        self, start: events_pb2.StartExecution
    ) -> tuple[ExecutionSnapshotRow, resources.Job, list[DatabaseToRun]]:
        # The definition even of a job DeleteJob marked since this execution was started:
        # deleting a job lets its started executions run (the seeds).
        job, _ = await self._catalog.get_job_definition(start.job_name)
        content = await self._catalog.get_content(job.content_name)
        policy = effective_policy(
            await self._catalog.get_execution_policy(job.execution_policy_name),
            job.execution_policy_name,
        )
        root = await self._catalog.get_target(job.target_id)
        databases = await expand_target(root, self._catalog.list_children)
        now = utcnow()
        snapshot = ExecutionSnapshotRow(
            job_execution_id=start.job_execution_id,
            job_name=job.name,
            content_name=content.name,
            content_version=content.version,
            command_text=content.script.command_text,
            credential_name=job.credential_name,
            policy=policy.to_json(),
            result_destination=destination_json(job),
            allow_concurrent_executions=job.allow_concurrent_executions,
            deadline=now + timedelta(milliseconds=policy.job_timeout_ms),
            create_time=now,
        )
        return snapshot, job, databases

    async def _record_expansion(
        self,
        start: events_pb2.StartExecution,
        snapshot: ExecutionSnapshotRow,
        job: resources.Job,
        databases: list[DatabaseToRun],
    ) -> bool:
        """Snapshot and children in one transaction, under the job's expansion lock: two
        starts of one job expanded at the same instant by two executors take turns, so the
        second sees the first's children and skips their databases (the seeds' overlap rule)."""
        async with self._sessions() as session:
            repository = ExecutorRepository(session)
            await repository.lock_job_expansions(job.name)
            # Again, held until the children are committed: a stop or a removal of the
            # parent that came meanwhile wins, one that comes now waits for them.
            exists, stopped = await repository.parent_stop(start.job_execution_id, hold=True)
            if not exists or stopped is not None:
                log.info("stopped or removed while it was expanded")
                return False
            busy: dict[str, str] = {}
            if not job.allow_concurrent_executions:
                busy = await repository.busy_targets(job.name, [d.target_id for d in databases])
            now = snapshot.create_time
            repository.add_expansion(
                snapshot,
                [
                    self._child(start, job, d, now, busy_with=busy.get(d.target_id))
                    for d in databases
                ],
            )
            await session.commit()
        return True

    @staticmethod
    def _child(
        start: events_pb2.StartExecution,
        job: resources.Job,
        database: DatabaseToRun,
        now: datetime,
        *,
        busy_with: str | None,
    ) -> ChildExecutionRow:
        skipped = busy_with is not None
        return ChildExecutionRow(
            job_execution_id=str(uuid.uuid4()),
            parent_job_execution_id=start.job_execution_id,
            job_name=job.name,
            target_id=database.target_id,
            engine=database.engine,
            server_name=database.server_name,
            port=database.port,
            database_name=database.database_name,
            options=database.options,
            lifecycle=Lifecycle.SKIPPED if skipped else Lifecycle.CREATED,
            message=(
                f"skipped: execution {busy_with} of this job is still running on this database"
                if skipped
                else ""
            ),
            current_attempt=0,
            create_time=now,
            end_time=now if skipped else None,
        )
