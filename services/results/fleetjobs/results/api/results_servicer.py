"""fleetjobs.v1.ResultsService."""

from __future__ import annotations

import uuid

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.db.models import ResultSetRow
from fleetjobs.core.grpc import PageRequest, invalid_argument, not_found
from fleetjobs.results.db.result_sets import ResultSetRepository
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import results_service_pb2 as pb
from fleetjobs.v1 import results_service_pb2_grpc as pb_grpc


def _to_proto(row: ResultSetRow) -> pb.ResultSet:
    return pb.ResultSet(
        job_execution_id=row.parent_job_execution_id,
        child_job_execution_id=row.job_execution_id,
        engine=row.engine,
        server_name=row.server_name,
        database_name=row.database_name,
        destination=resources.ResultDestination(**row.destination),
        rows_written=row.rows_written,
        columns=[pb.ResultColumn(name=c["name"], type=c["type"]) for c in row.columns],
    )


class ResultsServicer(pb_grpc.ResultsServiceServicer):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def ListResultSets(
        self, request: pb.ListResultSetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListResultSetsResponse:
        try:
            uuid.UUID(request.job_execution_id)
        except ValueError:
            raise invalid_argument(
                [("job_execution_id", "must be an execution id (a UUID)")]
            ) from None
        page = PageRequest.parse(request.page_size, request.page_token)
        async with self._sessions() as session:
            repository = ResultSetRepository(session)
            if not await repository.execution_exists(request.job_execution_id):
                raise not_found("job execution", request.job_execution_id)
            rows = await repository.list_for(
                request.job_execution_id, offset=page.offset, limit=page.size + 1
            )
        items = [_to_proto(r) for r in rows[: page.size]]
        return pb.ListResultSetsResponse(
            result_sets=items, next_page_token=page.next_token(len(items), len(rows) > page.size)
        )
