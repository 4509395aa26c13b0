from __future__ import annotations

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.catalog.api._convert import job_to_proto
from fleetjobs.catalog.db import Credentials, Jobs
from fleetjobs.core.grpc import invalid_argument, not_found
from fleetjobs.internal.v1 import catalog_internal_service_pb2 as internal_pb
from fleetjobs.internal.v1 import catalog_internal_service_pb2_grpc

DELETED_JOBS_PAGE = 100


class CatalogInternalServicer(catalog_internal_service_pb2_grpc.CatalogInternalServiceServicer):
    """fleetjobs.internal.v1.CatalogInternalService: hands a credential's ciphertext to the
    executor and the results service, the only holders of the private key; and the jobs
    DeleteJob marked to the executor (which still runs their executions) and the scheduler
    (which removes them)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def GetCredentialSecret(
        self, request: internal_pb.GetCredentialSecretRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb.GetCredentialSecretResponse:
        if not request.name:
            raise invalid_argument([("name", "is required")])
        async with self._sessions() as session:
            row = await Credentials(session).get(request.name)
        if row is None:
            raise not_found("credential", request.name)
        return internal_pb.GetCredentialSecretResponse(
            name=row.name,
            username=row.username,
            encrypted_password=row.encrypted_password,
            allowed_servers=list(row.allowed_servers),
        )

    async def GetJobDefinition(
        self, request: internal_pb.GetJobDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb.GetJobDefinitionResponse:
        if not request.name:
            raise invalid_argument([("name", "is required")])
        async with self._sessions() as session:
            row = await Jobs(session).get(request.name, include_deleted=True)
        if row is None:
            raise not_found("job", request.name)
        return internal_pb.GetJobDefinitionResponse(
            job=job_to_proto(row), deleted=row.delete_time is not None
        )

    async def ListDeletedJobs(
        self, request: internal_pb.ListDeletedJobsRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb.ListDeletedJobsResponse:
        if request.page_size < 0:
            raise invalid_argument([("page_size", "must not be negative")])
        limit = min(request.page_size or DELETED_JOBS_PAGE, DELETED_JOBS_PAGE)
        async with self._sessions() as session:
            names = await Jobs(session).deleted_names(after=request.after_name, limit=limit)
        return internal_pb.ListDeletedJobsResponse(names=names)

    async def RemoveDeletedJob(
        self, request: internal_pb.RemoveDeletedJobRequest, context: grpc.aio.ServicerContext
    ) -> internal_pb.RemoveDeletedJobResponse:
        if not request.name:
            raise invalid_argument([("name", "is required")])
        async with self._sessions.begin() as session:
            if not await Jobs(session).remove_deleted(request.name):
                raise not_found("deleted job", request.name)
        return internal_pb.RemoveDeletedJobResponse()
