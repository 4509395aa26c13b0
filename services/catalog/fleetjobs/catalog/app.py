"""Wiring: the catalog serves CatalogService and the internal CatalogInternalService from the
control database and the public keys; it consumes nothing from NATS."""

from __future__ import annotations

from collections.abc import Sequence

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types

from fleetjobs.catalog._keys import PublicKeys
from fleetjobs.catalog.api import CatalogInternalServicer, CatalogServicer
from fleetjobs.core.runtime import Runtime, Service
from fleetjobs.internal.v1 import catalog_internal_service_pb2, catalog_internal_service_pb2_grpc
from fleetjobs.v1 import catalog_service_pb2, catalog_service_pb2_grpc

CATALOG_SERVICE = catalog_service_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
INTERNAL_SERVICE = catalog_internal_service_pb2.DESCRIPTOR.services_by_name[
    "CatalogInternalService"
].full_name


class CatalogApp:
    def __init__(self, runtime: Runtime) -> None:
        self.service_names: Sequence[str] = (CATALOG_SERVICE, INTERNAL_SERVICE)
        keys = PublicKeys(runtime.settings.keys_dir)
        self._catalog = CatalogServicer(runtime.sessions, keys)
        self._internal = CatalogInternalServicer(runtime.sessions)

    def register(self, server: grpc.aio.Server) -> None:
        catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(self._catalog, server)
        catalog_internal_service_pb2_grpc.add_CatalogInternalServiceServicer_to_server(
            self._internal, server
        )

    async def start_consumers(self) -> None:
        """The catalog consumes nothing."""

    async def stop_consumers(self) -> None:
        """The catalog consumes nothing."""

    async def close(self) -> None:
        """Nothing of its own to release: the runtime disposes of the engine."""


def build_catalog(runtime: Runtime) -> Service:
    return CatalogApp(runtime)
