"""fleetjobs.internal.v1.ExecutorInternalService: the scheduler removing a deleted job's
history asks each service to delete the rows it writes (one writer per row, ADR 1)."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.grpc import failed_precondition, invalid_argument, require_execution_ids
from fleetjobs.executor.db.history import ExecutionHistory
from fleetjobs.internal.v1 import executor_internal_service_pb2 as pb
from fleetjobs.internal.v1 import executor_internal_service_pb2_grpc as pb_grpc


class ExecutorInternalServicer(pb_grpc.ExecutorInternalServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def PurgeExecutions(
        self, request: pb.PurgeExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.PurgeExecutionsResponse:
        if not request.job_name:
            raise invalid_argument([("job_name", "is required")])
        parent_ids = require_execution_ids("job_execution_ids", request.job_execution_ids)
        async with self._sessions.begin() as session:
            history = ExecutionHistory(session)
            # The scheduler only purges ended parents; a child still moving means its parent
            # has not ended after all, and its rows must stay.
            unfinished = await history.unfinished_children(parent_ids)
            if unfinished:
                raise failed_precondition(
                    f"{unfinished} child executions of these executions have not ended",
                    reason="EXECUTION_ACTIVE",
                )
            deleted = await history.purge(
                request.job_name, parent_ids, job_removed=request.job_removed
            )
        return pb.PurgeExecutionsResponse(rows_deleted=deleted)
