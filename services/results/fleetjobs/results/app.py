"""Wiring of the results service: ResultsService and the result-batch consumer."""

from __future__ import annotations

import grpc
from nats.js.api import AckPolicy, ConsumerConfig

from fleetjobs.core.clients import CatalogClient, CredentialResolver
from fleetjobs.core.crypto import KeyStore
from fleetjobs.core.messaging import PullLoop
from fleetjobs.core.runtime import Runtime
from fleetjobs.internal.v1 import (
    results_internal_service_pb2,
    results_internal_service_pb2_grpc,
)
from fleetjobs.results.api.internal_servicer import ResultsInternalServicer
from fleetjobs.results.api.results_servicer import ResultsServicer
from fleetjobs.results.events.batch_writer import WRITER_THREADS, BatchWriter
from fleetjobs.v1 import results_service_pb2, results_service_pb2_grpc

BATCHES_ACK_WAIT_SECONDS = 60.0


class ResultsApp:
    service_names = (
        results_service_pb2.DESCRIPTOR.services_by_name["ResultsService"].full_name,
        results_internal_service_pb2.DESCRIPTOR.services_by_name[
            "ResultsInternalService"
        ].full_name,
    )

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        names = runtime.names
        self._runtime = runtime
        self._catalog = CatalogClient(settings.addresses["catalog"])
        self._writer = BatchWriter(
            sessions=runtime.sessions,
            credentials=CredentialResolver(self._catalog, KeyStore.ensure(settings.keys_dir)),
            js=runtime.js,
            names=names,
            sqlite_root=settings.sqlite_root,
        )
        self._loop = PullLoop(
            runtime.js,
            stream=names.results_stream,
            subject=names.results,
            durable=names.results_consumer,
            config=ConsumerConfig(
                durable_name=names.results_consumer,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=BATCHES_ACK_WAIT_SECONDS,
                max_deliver=-1,
                max_ack_pending=10_000,
            ),
            handler=self._writer.handle_batch,
            batch=WRITER_THREADS * 2,
            fetch_timeout=0.5,
            setup_streams=runtime.setup_streams,
        )

    def register(self, server: grpc.aio.Server) -> None:
        results_service_pb2_grpc.add_ResultsServiceServicer_to_server(
            ResultsServicer(self._runtime.sessions), server
        )
        results_internal_service_pb2_grpc.add_ResultsInternalServiceServicer_to_server(
            ResultsInternalServicer(self._runtime.sessions), server
        )

    async def start_consumers(self) -> None:
        self._loop.start()

    async def stop_consumers(self) -> None:
        await self._loop.stop()

    async def close(self) -> None:
        await self._writer.close()
        await self._catalog.close()


def build_results(runtime: Runtime) -> ResultsApp:
    return ResultsApp(runtime)
