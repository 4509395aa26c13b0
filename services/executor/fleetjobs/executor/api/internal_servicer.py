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
            others = await history.jobs_of(parent_ids) - {request.job_name}
            if others:
                raise invalid_argument(
                    [
                        (
                            "job_execution_ids",
                            f"hold executions of other jobs ({', '.join(sorted(others))}), "
                            f"not only of {request.job_name!r}",
                        )
                    ]
                )
            # The scheduler only purges ended parents; one still running (or a child still
            # moving) means it has not ended after all, and its rows must stay.
            active = await history.still_active(parent_ids)
            if active:
                raise failed_precondition(
                    f"{active} of these executions or their children have not ended",
                    reason="EXECUTION_ACTIVE",
                )
            deleted = await history.purge(
                request.job_name, parent_ids, job_removed=request.job_removed
            )
        return pb.PurgeExecutionsResponse(rows_deleted=deleted)
