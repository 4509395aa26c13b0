"""Wiring of the executor: ExecutorService and the three JetStream consumers (starts, tasks,
result outcomes), the per-server slots and the maintenance loop."""

from __future__ import annotations

import uuid

import grpc
from nats.js.api import AckPolicy, ConsumerConfig

from fleetjobs.core.clients import CatalogClient, CredentialResolver
from fleetjobs.core.crypto import KeyStore
from fleetjobs.core.messaging import PullLoop
from fleetjobs.core.runtime import Runtime
from fleetjobs.executor.api.executor_servicer import ExecutorServicer
from fleetjobs.executor.api.internal_servicer import ExecutorInternalServicer
from fleetjobs.executor.connectors import build_connectors
from fleetjobs.executor.db.group_commit import GroupCommit
from fleetjobs.executor.events.expander import Expander
from fleetjobs.executor.events.maintenance import Maintenance
from fleetjobs.executor.events.outcomes import OutcomeRecorder
from fleetjobs.executor.events.publisher import ExecutorPublisher
from fleetjobs.executor.events.server_slots import ServerSlots
from fleetjobs.executor.events.stops import StopHandler
from fleetjobs.executor.events.task_runner import TaskRunner
from fleetjobs.internal.v1 import (
    executor_internal_service_pb2,
    executor_internal_service_pb2_grpc,
)
from fleetjobs.v1 import executor_service_pb2, executor_service_pb2_grpc

STARTS_ACK_WAIT_SECONDS = 60.0
OUTCOMES_ACK_WAIT_SECONDS = 30.0


class ExecutorApp:
    service_names = (
        executor_service_pb2.DESCRIPTOR.services_by_name["ExecutorService"].full_name,
        executor_internal_service_pb2.DESCRIPTOR.services_by_name[
            "ExecutorInternalService"
        ].full_name,
    )

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        names = runtime.names
        self._runtime = runtime
        self.worker_id = f"executor-{settings.replica}-{uuid.uuid4().hex[:8]}"
        self._catalog = CatalogClient(settings.addresses["catalog"])
        self._connectors = build_connectors(
            settings.sqlite_root, postgres_connection_check_seconds=settings.heartbeat_interval
        )
        self._credentials = CredentialResolver(self._catalog, KeyStore.ensure(settings.keys_dir))
        self._publisher = ExecutorPublisher(runtime.js, names)
        self._slots = ServerSlots(
            runtime.js,
            names,
            cap=settings.max_per_server,
            holder=self.worker_id,
            # The TTL of the bucket if this executor creates it; otherwise it adopts the
            # bucket's and refreshes at a third of that (events/server_slots.py).
            ttl_seconds=settings.slot_ttl,
        )
        # Every attempt-scoped write of this executor goes through one group commit.
        self._writes = GroupCommit(runtime.sessions)
        self._runner = TaskRunner(
            writes=self._writes,
            connectors=self._connectors,
            credentials=self._credentials,
            slots=self._slots,
            publisher=self._publisher,
            worker_id=self.worker_id,
            concurrency=settings.executor_concurrency,
            max_payload=runtime.nats.max_payload,
            keep_alive_seconds=settings.keep_alive_interval,
            worker_stale_seconds=settings.worker_stale_after,
            ack_wait_seconds=settings.task_ack_wait,
        )
        self._stops = StopHandler(
            runtime.nats,
            names,
            writes=self._writes,
            runner=self._runner,
            publisher=self._publisher,
        )
        self._maintenance = Maintenance(
            runtime.sessions,
            self._publisher,
            worker_id=self.worker_id,
            in_flight=lambda: self._runner.in_flight,
            sweep_stops=self._stops.sweep,
            heartbeat_seconds=settings.heartbeat_interval,
            reconcile_seconds=settings.reconcile_interval,
            worker_stale_seconds=settings.worker_stale_after,
            lost_after_seconds=settings.lost_after,
            handled_here=self._runner.handled,
            results_in_flight=self._results_in_flight,
        )
        expander = Expander(runtime.sessions, self._catalog, self._publisher)
        outcomes = OutcomeRecorder(
            self._writes, self._publisher, on_outcome=self._runner.outcome_arrived
        )
        self._loops = [
            PullLoop(
                runtime.js,
                stream=names.starts_stream,
                subject=names.starts,
                durable=names.executor_starts_consumer,
                config=ConsumerConfig(
                    durable_name=names.executor_starts_consumer,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=STARTS_ACK_WAIT_SECONDS,
                    max_ack_pending=1_000,
                ),
                setup_streams=runtime.setup_streams,
                handler=expander.handle_batch,
                batch=8,
            ),
            PullLoop(
                runtime.js,
                stream=names.tasks_stream,
                subject=names.tasks,
                durable=names.executor_tasks_consumer,
                config=ConsumerConfig(
                    durable_name=names.executor_tasks_consumer,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=settings.task_ack_wait,
                    # Retries are the policy's (nak with its delay), never the broker's cap.
                    max_deliver=-1,
                    max_ack_pending=100_000,
                ),
                setup_streams=runtime.setup_streams,
                handler=self._runner.handle_batch,
                batch=settings.executor_concurrency,
                fetch_timeout=0.5,
                capacity=self._runner.capacity,
                min_fetch=settings.executor_concurrency // 4,
            ),
            PullLoop(
                runtime.js,
                stream=names.events_stream,
                subject=names.result_outcomes,
                durable=names.executor_outcomes_consumer,
                config=ConsumerConfig(
                    durable_name=names.executor_outcomes_consumer,
                    filter_subject=names.result_outcomes,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=OUTCOMES_ACK_WAIT_SECONDS,
                    max_ack_pending=10_000,
                ),
                setup_streams=runtime.setup_streams,
                handler=outcomes.handle_batch,
                batch=256,
                fetch_timeout=0.5,
            ),
        ]

    async def _results_in_flight(self) -> int:
        """Result batches (results stream) and outcomes (this service's outcomes consumer)
        the broker still holds, queued or being handled."""
        js, names = self._runtime.js, self._runtime.names
        batches = (await js.stream_info(names.results_stream)).state.messages
        outcomes = await js.consumer_info(names.events_stream, names.executor_outcomes_consumer)
        return int(batches) + int(outcomes.num_pending or 0) + int(outcomes.num_ack_pending or 0)

    def register(self, server: grpc.aio.Server) -> None:
        executor_service_pb2_grpc.add_ExecutorServiceServicer_to_server(
            ExecutorServicer(
                sessions=self._runtime.sessions,
                connectors=self._connectors,
                catalog=self._catalog,
                credentials=self._credentials,
                in_flight=lambda: self._runner.in_flight,
                worker_stale_seconds=self._runtime.settings.worker_stale_after,
            ),
            server,
        )
        executor_internal_service_pb2_grpc.add_ExecutorInternalServiceServicer_to_server(
            ExecutorInternalServicer(self._runtime.sessions), server
        )

    async def start_consumers(self) -> None:
        await self._slots.start()
        await self._stops.start()
        await self._maintenance.start()
        for loop in self._loops:
            loop.start()

    async def stop_consumers(self) -> None:
        await self._stops.close()
        for loop in self._loops:
            await loop.stop()
        await self._runner.drain()
        await self._publisher.flush()
        await self._maintenance.stop()
        await self._writes.close()

    async def close(self) -> None:
        await self._catalog.close()


def build_executor(runtime: Runtime) -> ExecutorApp:
    return ExecutorApp(runtime)
