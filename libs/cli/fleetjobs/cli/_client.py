"""Channels and stubs of the four services, and paging through List RPCs.

Addresses come from FLEETJOBS_CATALOG_ADDR, _SCHEDULER_ADDR, _EXECUTOR_ADDR and _RESULTS_ADDR
(defaults 127.0.0.1:50051..50054), read the way the services read them. Channels are opened
on first use, so a command talks only to the service it needs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TypeVar

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from google.protobuf.message import Message

from fleetjobs.cli._errors import CliError
from fleetjobs.core.config import CommonSettings
from fleetjobs.v1 import (
    catalog_service_pb2_grpc,
    execution_service_pb2_grpc,
    executor_service_pb2_grpc,
    results_service_pb2_grpc,
)

# The API treats a larger page_size as 1000.
PAGE_SIZE = 1000

M = TypeVar("M", bound=Message)


class Clients:
    def __init__(self, addresses: Mapping[str, str]) -> None:
        self._addresses = dict(addresses)
        self._channels: dict[str, grpc.Channel] = {}

    @classmethod
    def from_env(cls) -> Clients:
        return cls(CommonSettings.from_env().addresses)

    def address(self, service: str) -> str:
        return self._addresses[service]

    @functools.cached_property
    def catalog(self) -> catalog_service_pb2_grpc.CatalogServiceStub:
        """fleetjobs.v1.CatalogService."""
        return catalog_service_pb2_grpc.CatalogServiceStub(self._channel("catalog"))

    @functools.cached_property
    def execution(self) -> execution_service_pb2_grpc.ExecutionServiceStub:
        """fleetjobs.v1.ExecutionService, served by the scheduler."""
        return execution_service_pb2_grpc.ExecutionServiceStub(self._channel("scheduler"))

    @functools.cached_property
    def executor(self) -> executor_service_pb2_grpc.ExecutorServiceStub:
        """fleetjobs.v1.ExecutorService."""
        return executor_service_pb2_grpc.ExecutorServiceStub(self._channel("executor"))

    @functools.cached_property
    def results(self) -> results_service_pb2_grpc.ResultsServiceStub:
        """fleetjobs.v1.ResultsService."""
        return results_service_pb2_grpc.ResultsServiceStub(self._channel("results"))

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def _channel(self, service: str) -> grpc.Channel:
        if service not in self._channels:
            self._channels[service] = grpc.insecure_channel(self._addresses[service])
        return self._channels[service]


def list_all(fetch: Callable[[int, str], M], field: str, *, limit: int | None = None) -> M:
    """Every page of a List RPC merged into one response (`field` holds the items).

    `fetch(page_size, page_token)` makes one call. Pages are PAGE_SIZE long; with `limit`, no
    more items are asked for than are still wanted.
    """
    merged: M | None = None
    token = ""
    seen_tokens: set[str] = set()
    while True:
        wanted = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - _count(merged, field))
        page = fetch(wanted, token)
        if merged is None:
            merged = type(page)()
        getattr(merged, field).extend(getattr(page, field))
        token = page.next_page_token  # type: ignore[attr-defined]  # every List response has it
        if not token or (limit is not None and _count(merged, field) >= limit):
            break
        if token in seen_tokens:
            raise CliError(f"the service returned page token {token!r} twice; stopped listing")
        seen_tokens.add(token)
    if limit is not None:
        del getattr(merged, field)[limit:]
    return merged


def _count(message: Message | None, field: str) -> int:
    return 0 if message is None else len(getattr(message, field))
