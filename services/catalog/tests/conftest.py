"""A real catalog (grpc.aio on a real port, real control database, real nats-server) per test
module, and a small synchronous client around it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
import pytest
from google.rpc import error_details_pb2  # type: ignore[import-untyped, unused-ignore]
from grpc_status import rpc_status

from fleetjobs.catalog.app import build_catalog
from fleetjobs.core.crypto import KeyStore
from fleetjobs.internal.v1 import catalog_internal_service_pb2_grpc
from fleetjobs.testing._nats import NatsProcess
from fleetjobs.testing._services import ServiceThread
from fleetjobs.testing.fixtures import make_settings
from fleetjobs.v1 import catalog_service_pb2_grpc


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class CatalogClient:
    address: str
    stub: Any  # catalog_service_pb2_grpc.CatalogServiceStub (the generated stubs are untyped)
    internal: Any  # catalog_internal_service_pb2_grpc.CatalogInternalServiceStub
    channel: grpc.Channel
    keys: KeyStore
    control_db_url: str
    state_dir: Path

    @staticmethod
    def unique(prefix: str) -> str:
        return unique(prefix)

    def fails(self, code: grpc.StatusCode, method: Callable[..., Any], request: Any) -> Any:
        """Calls `method`, asserts it fails with `code`, returns the RpcError."""
        with pytest.raises(grpc.RpcError) as caught:
            method(request, timeout=15)
        error = caught.value
        assert error.code() == code, f"{error.code()}: {error.details()}"
        return error

    def violations(self, error: Any) -> dict[str, str]:
        """The google.rpc.BadRequest field violations of a failed call, field → description."""
        status = rpc_status.from_call(error)
        assert status is not None, "no rich status on the error"
        found: dict[str, str] = {}
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                for violation in bad_request.field_violations:
                    found[violation.field] = violation.description
        return found

    def invalid(self, method: Callable[..., Any], request: Any) -> dict[str, str]:
        return self.violations(self.fails(grpc.StatusCode.INVALID_ARGUMENT, method, request))


def _untyped_stub(stub_class: Any, channel: grpc.Channel) -> Any:
    # The generated *_grpc modules have no type information.
    return stub_class(channel)


def start_catalog(
    *, control_db_url: str, nats_url: str, state_dir: Path, make_keys: bool = True
) -> tuple[ServiceThread, KeyStore | None]:
    settings = make_settings(state_dir=state_dir, control_db_url=control_db_url, nats_url=nats_url)
    # In production `make up` (or the executor on start) creates the key pair.
    keys = KeyStore.ensure(settings.keys_dir) if make_keys else None
    service = ServiceThread("catalog", build_catalog, settings)
    service.start()
    return service, keys


@pytest.fixture(scope="module")
def control_db(sqlite_control_db: str) -> str:
    """The control database the module's catalog uses; a module may parametrize it."""
    return sqlite_control_db


@pytest.fixture(scope="module")
def catalog(
    control_db: str, nats_server: NatsProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CatalogClient]:
    state_dir = tmp_path_factory.mktemp("catalog")
    service, keys = start_catalog(
        control_db_url=control_db, nats_url=nats_server.url, state_dir=state_dir
    )
    assert keys is not None
    channel = grpc.insecure_channel(service.address)
    try:
        yield CatalogClient(
            address=service.address,
            stub=_untyped_stub(catalog_service_pb2_grpc.CatalogServiceStub, channel),
            internal=_untyped_stub(
                catalog_internal_service_pb2_grpc.CatalogInternalServiceStub, channel
            ),
            channel=channel,
            keys=keys,
            control_db_url=control_db,
            state_dir=state_dir,
        )
    finally:
        channel.close()
        service.stop()


@pytest.fixture
def keyless_catalog(
    sqlite_control_db: str, nats_server: NatsProcess, tmp_path: Path
) -> Iterator[tuple[Any, Path]]:
    """A catalog started before any key pair exists (the executor makes it on start): its
    stub and the key directory it watches."""
    service, _ = start_catalog(
        control_db_url=sqlite_control_db,
        nats_url=nats_server.url,
        state_dir=tmp_path,
        make_keys=False,
    )
    channel = grpc.insecure_channel(service.address)
    try:
        yield _untyped_stub(catalog_service_pb2_grpc.CatalogServiceStub, channel), tmp_path / "keys"
    finally:
        channel.close()
        service.stop()
