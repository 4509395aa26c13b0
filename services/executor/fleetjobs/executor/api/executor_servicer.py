"""fleetjobs.v1.ExecutorService: connectors, connection tests, workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.clients import (
    CatalogClient,
    CatalogUnavailableError,
    CredentialResolver,
    DefinitionNotFound,
)
from fleetjobs.core.crypto import scrub
from fleetjobs.core.db import utcnow
from fleetjobs.core.grpc import invalid_argument, not_found, to_timestamp, unavailable
from fleetjobs.core.sql import DEFAULT_PORTS
from fleetjobs.executor.connectors import Connector, DatabaseAddress, Login, ScriptError
from fleetjobs.executor.db.executions import ExecutorRepository
from fleetjobs.executor.events.credentials import login_for
from fleetjobs.v1 import executor_service_pb2 as pb
from fleetjobs.v1 import executor_service_pb2_grpc as pb_grpc

TEST_CONNECTION_TIMEOUT_SECONDS = 15.0


class ExecutorServicer(pb_grpc.ExecutorServiceServicer):
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        connectors: dict[str, Connector],
        catalog: CatalogClient,
        credentials: CredentialResolver,
        in_flight: Callable[[], int],
        worker_stale_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._worker_stale_seconds = worker_stale_seconds
        self._connectors = connectors
        self._catalog = catalog
        self._credentials = credentials
        self._in_flight = in_flight

    async def ListConnectors(
        self, request: pb.ListConnectorsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConnectorsResponse:
        items = []
        for engine in sorted(self._connectors):
            availability = self._connectors[engine].availability()
            items.append(
                pb.Connector(
                    engine=engine,
                    driver=availability.driver,
                    available=availability.available,
                    detail=availability.detail,
                )
            )
        return pb.ListConnectorsResponse(connectors=items)

    async def TestConnection(
        self, request: pb.TestConnectionRequest, context: grpc.aio.ServicerContext
    ) -> pb.TestConnectionResponse:
        if not request.target_id:
            raise invalid_argument([("target_id", "is required")])
        try:
            target = await self._catalog.get_target(request.target_id)
        except DefinitionNotFound:
            raise not_found("target", request.target_id) from None
        except CatalogUnavailableError as error:
            raise unavailable(str(error)) from None
        if target.WhichOneof("kind") != "database":
            raise invalid_argument([("target_id", "must name a database target")])
        database = target.database
        connector = self._connectors.get(database.engine)
        if connector is None:
            return pb.TestConnectionResponse(
                ok=False, message=f"no connector for {database.engine}"
            )
        address = DatabaseAddress(
            engine=database.engine,
            server_name=database.server_name,
            port=database.port or DEFAULT_PORTS.get(database.engine, 0),
            database_name=database.database_name,
            options=dict(database.options),
        )
        secrets: list[str] = []
        try:
            login: Login | None = None
            if database.engine != "sqlite":
                login = await login_for(
                    self._credentials,
                    request.credential_name,
                    server_name=database.server_name,
                    port=address.port,
                    engine=database.engine,
                )
                secrets.append(login.password)
            version = await asyncio.wait_for(
                asyncio.to_thread(connector.server_version, address, login),
                TEST_CONNECTION_TIMEOUT_SECONDS,
            )
        except ScriptError as error:
            return pb.TestConnectionResponse(ok=False, message=scrub(error.message, secrets))
        except TimeoutError:
            return pb.TestConnectionResponse(ok=False, message="the connection timed out")
        return pb.TestConnectionResponse(ok=True, message="connected", server_version=version)

    async def ListWorkers(
        self, request: pb.ListWorkersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListWorkersResponse:
        alive_after = utcnow() - timedelta(seconds=self._worker_stale_seconds)
        async with self._sessions() as session:
            workers = await ExecutorRepository(session).live_workers(alive_after)
        return pb.ListWorkersResponse(
            workers=[
                pb.Worker(
                    worker_id=w.worker_id,
                    host=w.host,
                    tasks_in_flight=w.tasks_in_flight,
                    started_time=to_timestamp(w.started_time),
                )
                for w in workers
            ]
        )
