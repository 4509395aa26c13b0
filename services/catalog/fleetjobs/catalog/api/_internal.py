from __future__ import annotations

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.catalog.db import Credentials
from fleetjobs.core.grpc import invalid_argument, not_found
from fleetjobs.internal.v1 import catalog_internal_service_pb2 as internal_pb
from fleetjobs.internal.v1 import catalog_internal_service_pb2_grpc


class CatalogInternalServicer(catalog_internal_service_pb2_grpc.CatalogInternalServiceServicer):
    """fleetjobs.internal.v1.CatalogInternalService: hands a credential's ciphertext to the
    executor and the results service, the only holders of the private key."""

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
