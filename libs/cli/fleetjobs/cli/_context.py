"""What a command handler is given besides its parsed arguments."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

from fleetjobs.cli._client import Clients
from fleetjobs.cli._output import Output
from fleetjobs.v1 import (
    catalog_service_pb2_grpc,
    execution_service_pb2_grpc,
    executor_service_pb2_grpc,
    results_service_pb2_grpc,
)


class Context:
    def __init__(self, *, out: Output, stdin: TextIO, timeout: float) -> None:
        self.out = out
        self.stdin = stdin
        # The deadline of each unary call; watching an execution has none.
        self.timeout = timeout
        self._clients: Clients | None = None

    @property
    def clients(self) -> Clients:
        # Made on first use: commands that need no service never read the addresses.
        if self._clients is None:
            self._clients = Clients.from_env()
        return self._clients

    @property
    def catalog(self) -> catalog_service_pb2_grpc.CatalogServiceStub:
        return self.clients.catalog

    @property
    def execution(self) -> execution_service_pb2_grpc.ExecutionServiceStub:
        return self.clients.execution

    @property
    def executor(self) -> executor_service_pb2_grpc.ExecutorServiceStub:
        return self.clients.executor

    @property
    def results(self) -> results_service_pb2_grpc.ResultsServiceStub:
        return self.clients.results

    def address(self, service: str) -> str:
        """The address of `service` if its clients were made, for error messages."""
        return "" if self._clients is None or not service else self._clients.address(service)

    def close(self) -> None:
        if self._clients is not None:
            self._clients.close()


Handler = Callable[[Context, argparse.Namespace], int]
