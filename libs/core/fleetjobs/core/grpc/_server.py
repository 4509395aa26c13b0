"""One way to start a service's gRPC server: health, reflection, one structured log line per
RPC, ApiError → canonical status with details, and a port that is ours alone."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from fleetjobs.core.grpc._errors import ApiError

log = logging.getLogger("fleetjobs.rpc")


class PortInUseError(RuntimeError):
    """The listen address is taken: fleetjobs never silently shares a port."""


def _status_of(error: ApiError) -> grpc.Status:
    return rpc_status.to_status(error.to_status())


class _RpcInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # untyped base
    """Maps ApiError to its status and logs one line per RPC (method, code, duration)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


def _log(method: str, code: str, started: float, message: str = "") -> None:
    log.info(
        "rpc",
        extra={
            "rpc_method": method,
            "rpc_code": code,
            "duration_ms": round((time.monotonic() - started) * 1000, 2),
            "rpc_error": message,
        },
    )


def _wrap_unary(inner: Any, method: str) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.monotonic()
        try:
            response = await inner(request, context)
        except ApiError as error:
            _log(method, error.code.name, started, error.message)
            await context.abort_with_status(_status_of(error))
        except Exception:
            log.exception("rpc failed", extra={"rpc_method": method})
            _log(method, "INTERNAL", started)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")
        _log(method, "OK", started)
        return response

    return wrapped


def _wrap_stream(inner: Any, method: str) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = time.monotonic()
        try:
            async for item in inner(request, context):
                yield item
        except ApiError as error:
            _log(method, error.code.name, started, error.message)
            await context.abort_with_status(_status_of(error))
        except Exception:
            log.exception("rpc failed", extra={"rpc_method": method})
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")
        _log(method, "OK", started)

    return wrapped


@dataclass
class GrpcServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    service_names: Sequence[str]

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in (*self.service_names, ""):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        await self.server.stop(grace)


async def start_grpc_server(
    *,
    address: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> GrpcServer:
    """Starts a server on `address` ("host:0" picks a free port). Health starts NOT_SERVING:
    the caller flips it once its database and NATS are connected."""
    server = grpc.aio.server(
        interceptors=[_RpcInterceptor(), *interceptors],
        # Without this, Linux lets a second process bind the same port and the kernel splits
        # connections between them: a stale replica would silently answer half the calls.
        options=[("grpc.so_reuseport", 0)],
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as error:
        raise PortInUseError(f"cannot listen on {address}: {error}") from None
    if port == 0:
        raise PortInUseError(f"cannot listen on {address}: the port is in use")
    await server.start()
    grpc_server = GrpcServer(
        server=server, health=health_servicer, port=port, service_names=service_names
    )
    await grpc_server.set_serving(False)
    return grpc_server
