"""The whole suite in the test process: the four services on real ports (one thread and
event loop each), sharing one control database, one NATS prefix and one key store."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from fleetjobs.core.config import CommonSettings
from fleetjobs.core.crypto import KeyStore
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing._services import ServiceThread
from fleetjobs.v1 import (
    catalog_service_pb2_grpc,
    execution_service_pb2,
    execution_service_pb2_grpc,
    executor_service_pb2_grpc,
    results_service_pb2_grpc,
)


def _builders() -> dict[str, Callable[..., Any]]:
    from fleetjobs.catalog.app import build_catalog
    from fleetjobs.executor.app import build_executor
    from fleetjobs.results.app import build_results
    from fleetjobs.scheduler.app import build_scheduler

    return {
        "catalog": build_catalog,
        "scheduler": build_scheduler,
        "executor": build_executor,
        "results": build_results,
    }


@dataclass
class RunningSuite:
    settings: CommonSettings
    services: dict[str, ServiceThread]
    channels: list[grpc.Channel] = field(default_factory=list)

    def _channel(self, service: str) -> grpc.Channel:
        channel = grpc.insecure_channel(self.settings.addresses[service])
        self.channels.append(channel)
        return channel

    def __post_init__(self) -> None:
        self.catalog = catalog_service_pb2_grpc.CatalogServiceStub(self._channel("catalog"))
        self.executions = execution_service_pb2_grpc.ExecutionServiceStub(
            self._channel("scheduler")
        )
        self.executor = executor_service_pb2_grpc.ExecutorServiceStub(self._channel("executor"))
        self.results = results_service_pb2_grpc.ResultsServiceStub(self._channel("results"))

    @property
    def keys(self) -> KeyStore:
        return KeyStore.ensure(self.settings.keys_dir)

    def wait_terminal(self, job_execution_id: str, timeout: float = 120.0) -> Any:
        """Follows WatchJobExecution to the end; returns the final execution with children."""
        deadline = time.monotonic() + timeout
        stream = self.executions.WatchJobExecution(
            execution_service_pb2.WatchJobExecutionRequest(job_execution_id=job_execution_id),
            timeout=timeout,
        )
        for update in stream:
            if Lifecycle.from_proto(update.job_execution.lifecycle).terminal:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {job_execution_id} still running")
        return self.executions.GetJobExecution(
            execution_service_pb2.GetJobExecutionRequest(
                job_execution_id=job_execution_id, include_children=True
            )
        ).job_execution

    def stop(self) -> None:
        for channel in self.channels:
            channel.close()
        for name in sorted(self.services, key=lambda n: n == "catalog"):
            self.services[name].stop()


def start_suite(settings: CommonSettings, *, executors: int = 1) -> RunningSuite:
    """The four services; `executors` > 1 adds replicas (`executor-2`, …) sharing the work."""
    KeyStore.ensure(settings.keys_dir)
    settings.sqlite_root.mkdir(parents=True, exist_ok=True)
    builders = _builders()
    services: dict[str, ServiceThread] = {}
    try:
        for name in ("catalog", "results", "executor", "scheduler"):
            thread = ServiceThread(name, builders[name], settings)
            thread.start()
            services[name] = thread
        for replica in range(2, executors + 1):
            thread = ServiceThread(
                "executor", builders["executor"], dataclasses.replace(settings, replica=replica)
            )
            thread.start()
            services[f"executor-{replica}"] = thread
    except Exception:
        for thread in services.values():
            thread.stop()
        raise
    return RunningSuite(settings=settings, services=services)
