"""fleetjobs.internal.v1.ResultsInternalService: the scheduler removing a deleted job's
history asks each service to delete the rows it writes (one writer per row, ADR 1)."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.grpc import require_execution_ids
from fleetjobs.internal.v1 import results_internal_service_pb2 as pb
from fleetjobs.internal.v1 import results_internal_service_pb2_grpc as pb_grpc
from fleetjobs.results.db.history import purge_result_sets


class ResultsInternalServicer(pb_grpc.ResultsInternalServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def PurgeResultSets(
        self, request: pb.PurgeResultSetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.PurgeResultSetsResponse:
        parent_ids = require_execution_ids("job_execution_ids", request.job_execution_ids)
        async with self._sessions.begin() as session:
            deleted = await purge_result_sets(session, parent_ids)
        return pb.PurgeResultSetsResponse(rows_deleted=deleted)
