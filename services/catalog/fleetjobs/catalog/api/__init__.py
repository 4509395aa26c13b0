"""gRPC servicers: protobuf in, domain rules and repositories, protobuf out. No SQL here."""

from fleetjobs.catalog.api._contents import ContentsApi
from fleetjobs.catalog.api._credentials import CredentialsApi
from fleetjobs.catalog.api._internal import CatalogInternalServicer
from fleetjobs.catalog.api._jobs import JobsApi
from fleetjobs.catalog.api._policies import PoliciesApi
from fleetjobs.catalog.api._targets import TargetsApi
from fleetjobs.v1 import catalog_service_pb2_grpc


class CatalogServicer(
    CredentialsApi,
    ContentsApi,
    TargetsApi,
    PoliciesApi,
    JobsApi,
    catalog_service_pb2_grpc.CatalogServiceServicer,
):
    """fleetjobs.v1.CatalogService, one mixin per resource (they share ServicerBase)."""


__all__ = ["CatalogInternalServicer", "CatalogServicer"]
