"""Wiring of the scheduler: ExecutionService, the fold consumer and the reconciler."""

from __future__ import annotations

import grpc
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from fleetjobs.core.clients import CatalogClient
from fleetjobs.core.messaging import PullLoop
from fleetjobs.core.runtime import Runtime
from fleetjobs.scheduler.api.execution_servicer import ExecutionServicer
from fleetjobs.scheduler.events.commands import CommandPublisher
from fleetjobs.scheduler.events.fold import ParentFolder
from fleetjobs.scheduler.events.history_clients import HistoryClients
from fleetjobs.scheduler.events.job_removal import JobRemover
from fleetjobs.scheduler.events.notifier import ChangeNotifier
from fleetjobs.scheduler.events.reconcile import Reconciler
from fleetjobs.v1 import execution_service_pb2, execution_service_pb2_grpc

EVENTS_ACK_WAIT_SECONDS = 30.0


class SchedulerService:
    service_names = (
        execution_service_pb2.DESCRIPTOR.services_by_name["ExecutionService"].full_name,
    )

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._catalog = CatalogClient(runtime.settings.addresses["catalog"])
        self._notifier = ChangeNotifier()
        self._commands = CommandPublisher(runtime.nats, runtime.js, runtime.names)
        self._folder = ParentFolder(runtime.sessions, self._notifier)
        addresses = runtime.settings.addresses
        self._history = HistoryClients(
            executor_address=addresses["executor"], results_address=addresses["results"]
        )
        self._reconciler = Reconciler(
            runtime.sessions,
            self._commands,
            self._folder,
            JobRemover(runtime.sessions, self._catalog, self._history),
        )
        names = runtime.names
        self._events = PullLoop(
            runtime.js,
            stream=names.events_stream,
            subject=names.child_events,
            durable=names.scheduler_events_consumer,
            config=ConsumerConfig(
                durable_name=names.scheduler_events_consumer,
                filter_subject=names.child_events,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=EVENTS_ACK_WAIT_SECONDS,
                max_ack_pending=10_000,
            ),
            handler=self._folder.handle_batch,
            batch=256,
            fetch_timeout=0.5,
            setup_streams=runtime.setup_streams,
        )

    def register(self, server: grpc.aio.Server) -> None:
        execution_service_pb2_grpc.add_ExecutionServiceServicer_to_server(
            ExecutionServicer(
                sessions=self._runtime.sessions,
                catalog=self._catalog,
                commands=self._commands,
                notifier=self._notifier,
            ),
            server,
        )

    async def start_consumers(self) -> None:
        self._events.start()
        self._reconciler.start()

    async def stop_consumers(self) -> None:
        await self._reconciler.stop()
        await self._events.stop()

    async def close(self) -> None:
        await self._history.close()
        await self._catalog.close()


def build_scheduler(runtime: Runtime) -> SchedulerService:
    return SchedulerService(runtime)
