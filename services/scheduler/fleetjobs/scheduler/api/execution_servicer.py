"""fleetjobs.v1.ExecutionService: proto ↔ domain. No SQL here: repositories do that."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.clients import CatalogClient, CatalogUnavailableError, DefinitionNotFound
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ParentExecutionRow
from fleetjobs.core.grpc import (
    PageRequest,
    failed_precondition,
    invalid_argument,
    not_found,
    unavailable,
)
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.scheduler.api.convert import attempt_to_proto, child_to_proto, parent_to_proto
from fleetjobs.scheduler.db.executions import ExecutionReadModel, ParentRepository
from fleetjobs.scheduler.events.commands import CommandPublisher
from fleetjobs.scheduler.events.notifier import ChangeNotifier
from fleetjobs.v1 import execution_resources_pb2 as resources
from fleetjobs.v1 import execution_service_pb2 as pb
from fleetjobs.v1 import execution_service_pb2_grpc as pb_grpc

# A watcher re-reads at least this often even without a local notification, so changes
# folded by another scheduler replica reach it too.
WATCH_POLL_SECONDS = 1.0
WATCH_COALESCE_SECONDS = 0.1
WATCH_OVERLAP = timedelta(seconds=5)
# A page of attempts stops growing past this many bytes, well under the 4 MiB a gRPC client
# accepts by default: each attempt may carry up to 256 KiB of messages (docs/api.md), so a
# full page of 100 could not be received. The next page token starts after the last one sent.
RESPONSE_BUDGET_BYTES = 3 * 1024 * 1024


def _within_response_budget(
    items: list[resources.JobTaskExecution],
) -> list[resources.JobTaskExecution]:
    """The longest prefix of `items` within RESPONSE_BUDGET_BYTES, and never fewer than one."""
    total = 0
    for index, item in enumerate(items):
        total += item.ByteSize() + 8  # the field's tag and length prefix
        if total > RESPONSE_BUDGET_BYTES and index > 0:
            return items[:index]
    return items


def _require_uuid(field: str, value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise invalid_argument([(field, "must be an execution id (a UUID)")]) from None


class ExecutionServicer(pb_grpc.ExecutionServiceServicer):
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        catalog: CatalogClient,
        commands: CommandPublisher,
        notifier: ChangeNotifier,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._commands = commands
        self._notifier = notifier

    async def StartJobExecution(
        self, request: pb.StartJobExecutionRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartJobExecutionResponse:
        if not request.job_name:
            raise invalid_argument([("job_name", "is required")])
        if len(request.request_id) > 128:
            raise invalid_argument([("request_id", "must be at most 128 characters")])
        if request.request_id:
            existing = await self._by_request_id(request.request_id)
            if existing is not None:
                return pb.StartJobExecutionResponse(job_execution=parent_to_proto(existing))
        try:
            job = await self._catalog.get_job(request.job_name)
        except DefinitionNotFound:
            raise not_found("job", request.job_name) from None
        except CatalogUnavailableError as error:
            raise unavailable(str(error)) from None
        row = ParentExecutionRow(
            job_execution_id=str(uuid.uuid4()),
            job_name=job.name,
            target_id=job.target_id,
            lifecycle=Lifecycle.CREATED,
            active=True,
            message="",
            counts={},
            content_version=0,
            child_count=0,
            schedule_name="",
            request_id=request.request_id or None,
            create_time=utcnow(),
        )
        try:
            async with self._sessions() as session:
                ParentRepository(session).add(row)
                await session.commit()
        except IntegrityError:
            # The same request_id raced us; the winner's execution is the answer.
            existing = await self._by_request_id(request.request_id)
            if existing is None:
                raise
            return pb.StartJobExecutionResponse(job_execution=parent_to_proto(existing))
        # The parent is recorded before the start is published: if the publish is lost the
        # reconciler republishes it, never the other way round.
        await self._commands.publish_start(row.job_execution_id, row.job_name)
        return pb.StartJobExecutionResponse(job_execution=parent_to_proto(row))

    async def _by_request_id(self, request_id: str) -> ParentExecutionRow | None:
        async with self._sessions() as session:
            return await ParentRepository(session).by_request_id(request_id)

    async def StopJobExecution(
        self, request: pb.StopJobExecutionRequest, context: grpc.aio.ServicerContext
    ) -> pb.StopJobExecutionResponse:
        execution_id = request.job_execution_id
        _require_uuid("job_execution_id", execution_id)
        async with self._sessions() as session:
            parents = ParentRepository(session)
            parent = await parents.get(execution_id)
            if parent is None:
                child = await ExecutionReadModel(session).child(execution_id)
                if child is not None:
                    raise invalid_argument(
                        [
                            (
                                "job_execution_id",
                                "is a child execution; stop its parent "
                                f"{child.parent_job_execution_id}, which stops every child",
                            )
                        ]
                    )
                raise not_found("job execution", execution_id)
            lifecycle = Lifecycle(parent.lifecycle)
            if lifecycle.terminal:
                raise failed_precondition(
                    f"job execution {execution_id} already ended {lifecycle.value}",
                    reason="EXECUTION_FINISHED",
                )
            if parent.stop_lifecycle is None:
                await parents.request_stop(
                    execution_id,
                    lifecycle=Lifecycle.CANCELED,
                    # Not expanded yet: nothing runs, so the parent ends here and now.
                    end_now=await ExecutionReadModel(session).snapshot(execution_id) is None,
                    now=utcnow(),
                )
                await session.commit()
            parent = await parents.get(execution_id)
        assert parent is not None
        # A stop after the job timeout fired keeps TIMED_OUT: the first stop decides.
        await self._commands.publish_stop(
            execution_id, Lifecycle(parent.stop_lifecycle or Lifecycle.CANCELED)
        )
        self._notifier.notify(execution_id)
        return pb.StopJobExecutionResponse(job_execution=parent_to_proto(parent))

    async def _execution(
        self, session: AsyncSession, job_execution_id: str, *, include_children: bool
    ) -> resources.JobExecution:
        _require_uuid("job_execution_id", job_execution_id)
        parent = await ParentRepository(session).get(job_execution_id)
        read = ExecutionReadModel(session)
        if parent is not None:
            message = parent_to_proto(parent)
            if include_children:
                children = await read.children(job_execution_id)
                message.child_executions.extend(
                    child_to_proto(c, content_version=parent.content_version) for c in children
                )
            return message
        child = await read.child(job_execution_id)
        if child is None:
            raise not_found("job execution", job_execution_id)
        return child_to_proto(child)

    async def GetJobExecution(
        self, request: pb.GetJobExecutionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJobExecutionResponse:
        async with self._sessions() as session:
            execution = await self._execution(
                session, request.job_execution_id, include_children=request.include_children
            )
        return pb.GetJobExecutionResponse(job_execution=execution)

    async def ListJobExecutions(
        self, request: pb.ListJobExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJobExecutionsResponse:
        page = PageRequest.parse(request.page_size, request.page_token)
        async with self._sessions() as session:
            read = ExecutionReadModel(session)
            if request.parent_job_execution_id:
                _require_uuid("parent_job_execution_id", request.parent_job_execution_id)
                parent = await ParentRepository(session).get(request.parent_job_execution_id)
                if parent is None:
                    raise not_found("job execution", request.parent_job_execution_id)
                children = await read.children(
                    parent.job_execution_id,
                    include_inactive=request.include_inactive,
                    offset=page.offset,
                    limit=page.size + 1,
                )
                items = [
                    child_to_proto(c, content_version=parent.content_version)
                    for c in children[: page.size]
                ]
                return pb.ListJobExecutionsResponse(
                    job_executions=items,
                    next_page_token=page.next_token(len(items), len(children) > page.size),
                )
            parents = await ParentRepository(session).list(
                job_name=request.job_name,
                schedule_name=request.schedule_name,
                target_id=request.target_id,
                include_inactive=request.include_inactive,
                offset=page.offset,
                limit=page.size + 1,
            )
            items = []
            for parent in parents[: page.size]:
                message = parent_to_proto(parent)
                if request.include_children:
                    message.child_executions.extend(
                        child_to_proto(c, content_version=parent.content_version)
                        for c in await read.children(parent.job_execution_id)
                    )
                items.append(message)
        return pb.ListJobExecutionsResponse(
            job_executions=items,
            next_page_token=page.next_token(len(items), len(parents) > page.size),
        )

    async def ListJobTaskExecutions(
        self, request: pb.ListJobTaskExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJobTaskExecutionsResponse:
        _require_uuid("job_execution_id", request.job_execution_id)
        page = PageRequest.parse(request.page_size, request.page_token)
        async with self._sessions() as session:
            read = ExecutionReadModel(session)
            parent = await ParentRepository(session).get(request.job_execution_id)
            if parent is not None:
                rows = await read.attempts(
                    child_id=None,
                    parent_id=parent.job_execution_id,
                    offset=page.offset,
                    limit=page.size + 1,
                )
            elif await read.child(request.job_execution_id) is not None:
                rows = await read.attempts(
                    child_id=request.job_execution_id,
                    parent_id=None,
                    offset=page.offset,
                    limit=page.size + 1,
                )
            else:
                raise not_found("job execution", request.job_execution_id)
        items = _within_response_budget([attempt_to_proto(r) for r in rows[: page.size]])
        return pb.ListJobTaskExecutionsResponse(
            job_task_executions=items,
            next_page_token=page.next_token(len(items), len(rows) > len(items)),
        )

    async def GetJobTaskExecution(
        self, request: pb.GetJobTaskExecutionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJobTaskExecutionResponse:
        _require_uuid("job_task_execution_id", request.job_task_execution_id)
        async with self._sessions() as session:
            row = await ExecutionReadModel(session).attempt(request.job_task_execution_id)
        if row is None:
            raise not_found("job task execution", request.job_task_execution_id)
        return pb.GetJobTaskExecutionResponse(job_task_execution=attempt_to_proto(row))

    async def WatchJobExecution(
        self, request: pb.WatchJobExecutionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchJobExecutionResponse]:
        execution_id = request.job_execution_id
        _require_uuid("job_execution_id", execution_id)
        wake = self._notifier.subscribe(execution_id)
        sent: dict[str, tuple[int, int, str]] = {}
        since: datetime | None = None
        first = True
        try:
            while True:
                wake.clear()
                read_at = utcnow()
                async with self._sessions() as session:
                    execution, children = await self._watch_read(session, execution_id, since)
                # Re-reading a margin back catches changes committed after they were stamped;
                # the fingerprints drop what was already sent.
                since = read_at - WATCH_OVERLAP
                changed = []
                for child in children:
                    fingerprint = (child.lifecycle, child.attempts, child.message)
                    if sent.get(child.job_execution_id) != fingerprint:
                        sent[child.job_execution_id] = fingerprint
                        changed.append(child)
                terminal = Lifecycle.from_proto(execution.lifecycle).terminal
                if first or changed or terminal:
                    yield pb.WatchJobExecutionResponse(
                        job_execution=execution, changed_children=changed
                    )
                    first = False
                if terminal:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=WATCH_POLL_SECONDS)
                # Let a burst of changes land before reading again.
                await asyncio.sleep(WATCH_COALESCE_SECONDS)
        finally:
            self._notifier.unsubscribe(execution_id, wake)

    async def _watch_read(
        self, session: AsyncSession, execution_id: str, since: datetime | None
    ) -> tuple[resources.JobExecution, list[resources.JobExecution]]:
        """The execution, and its children changed since `since` (all of them when None)."""
        parent = await ParentRepository(session).get(execution_id)
        if parent is None:
            child = await ExecutionReadModel(session).child(execution_id)
            if child is None:
                raise not_found("job execution", execution_id)
            return child_to_proto(child), []
        read = ExecutionReadModel(session)
        rows = (
            await read.children(execution_id)
            if since is None
            else await read.children_changed_since(execution_id, since)
        )
        version = parent.content_version
        return parent_to_proto(parent), [
            child_to_proto(row, content_version=version) for row in rows
        ]
