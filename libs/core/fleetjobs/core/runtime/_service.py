from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import grpc
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fleetjobs.core.config import CommonSettings, SettingsError
from fleetjobs.core.db import (
    SchemaOutdatedError,
    assert_schema_current,
    make_async_engine,
    make_session_factory,
)
from fleetjobs.core.grpc import GrpcServer, PortInUseError, start_grpc_server
from fleetjobs.core.logs import configure_logging
from fleetjobs.core.messaging import Names, connect_jetstream, ensure_streams

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0


@dataclass
class Runtime:
    """What a service gets handed once its control database and NATS are connected."""

    settings: CommonSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    nats: Client
    js: JetStreamContext
    names: Names

    async def setup_streams(self) -> None:
        """Creates the streams when missing: at start, and again when a pull loop finds its
        stream gone (NATS restarted on a wiped JetStream store)."""
        await ensure_streams(self.js, self.names)


class Service(Protocol):
    @property
    def service_names(self) -> Sequence[str]:
        """Full names of the gRPC services it registers (for health and reflection)."""
        ...

    def register(self, server: grpc.aio.Server) -> None: ...

    async def start_consumers(self) -> None: ...

    async def stop_consumers(self) -> None: ...

    async def close(self) -> None: ...


async def serve_forever(
    name: str,
    make_service: Callable[[Runtime], Service],
    *,
    settings: CommonSettings,
    stop: asyncio.Event,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Connects, serves until `stop` is set, then shuts down in the conventional order:
    health NOT_SERVING → stop pulling → server.stop(grace) → nats drain → engine dispose."""
    await asyncio.to_thread(assert_schema_current, settings.control_db_url)
    engine = make_async_engine(settings.control_db_url)
    nats_client, js = await connect_jetstream(settings.require_nats(), name=f"fleetjobs-{name}")
    names = Names(settings.nats_prefix)
    await ensure_streams(js, names)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        nats=nats_client,
        js=js,
        names=names,
    )
    service = make_service(runtime)
    server: GrpcServer | None = None
    try:
        server = await start_grpc_server(
            address=settings.listen_address(name),
            register=service.register,
            service_names=service.service_names,
        )
        if on_listening is not None:
            on_listening(server.port)
        await service.start_consumers()
        # SERVING only now: the database answered the schema check and NATS is connected.
        await server.set_serving(True)
        log.info("serving", extra={"port": server.port, "replica": settings.replica})
        await stop.wait()
        log.info("shutting down")
        await server.set_serving(False)
        await service.stop_consumers()
        await server.stop(SHUTDOWN_GRACE_SECONDS)
    finally:
        if server is not None:
            await server.stop(0)
        if not nats_client.is_closed:
            await nats_client.drain()
        await service.close()
        await engine.dispose()


def run_service(name: str, make_service: Callable[[Runtime], Service]) -> None:
    """Entry point of a service's __main__: settings from the environment, logs, signals."""
    configure_logging(name)
    try:
        settings = CommonSettings.from_env()
    except SettingsError as error:
        print(f"fleetjobs-{name}: {error}", file=sys.stderr)
        raise SystemExit(2) from None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve_forever(name, make_service, settings=settings, stop=stop)

    try:
        asyncio.run(main())
    except (SchemaOutdatedError, SettingsError, PortInUseError) as error:
        log.error("cannot start", extra={"error": str(error)})
        print(f"fleetjobs-{name}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
