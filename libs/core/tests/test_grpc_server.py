"""The shared gRPC bootstrap on real ports: a taken port is an error, ApiError becomes a
canonical status with google.rpc details, health starts NOT_SERVING."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from fleetjobs.core.grpc import PortInUseError, invalid_argument, start_grpc_server
from fleetjobs.internal.v1 import catalog_internal_service_pb2 as pb
from fleetjobs.internal.v1 import catalog_internal_service_pb2_grpc as pb_grpc

SERVICE = "fleetjobs.internal.v1.CatalogInternalService"


class _Refusing(pb_grpc.CatalogInternalServiceServicer):
    async def GetCredentialSecret(
        self, request: pb.GetCredentialSecretRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCredentialSecretResponse:
        raise invalid_argument([("name", "must not be empty"), ("name", "is too short")])


def _register(server: grpc.aio.Server) -> None:
    pb_grpc.add_CatalogInternalServiceServicer_to_server(_Refusing(), server)


def test_a_taken_port_is_an_error_never_shared() -> None:
    async def scenario() -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
                await start_grpc_server(
                    address=f"127.0.0.1:{port}", register=_register, service_names=[SERVICE]
                )

    asyncio.run(scenario())


def test_api_error_becomes_invalid_argument_with_field_violations() -> None:
    async def scenario() -> tuple[grpc.RpcError, int]:
        server = await start_grpc_server(
            address="127.0.0.1:0", register=_register, service_names=[SERVICE]
        )
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                health = health_pb2_grpc.HealthStub(channel)
                status = (await health.Check(health_pb2.HealthCheckRequest())).status
                try:
                    await pb_grpc.CatalogInternalServiceStub(channel).GetCredentialSecret(
                        pb.GetCredentialSecretRequest()
                    )
                except grpc.aio.AioRpcError as error:
                    return error, status
                raise AssertionError("the call should have failed")
        finally:
            await server.stop(0)

    error, health_status = asyncio.run(scenario())

    assert health_status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("name", "must not be empty"),
        ("name", "is too short"),
    ]
