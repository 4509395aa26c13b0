from __future__ import annotations

import grpc

from fleetjobs.internal.v1 import catalog_internal_service_pb2 as internal_pb2
from fleetjobs.internal.v1 import catalog_internal_service_pb2_grpc as internal_grpc
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog_pb2
from fleetjobs.v1 import catalog_service_pb2_grpc as catalog_grpc

CALL_TIMEOUT_SECONDS = 15.0
# A restarted catalog is found again within two seconds. gRPC's default reconnect backoff
# grows to two minutes, which would leave every other service failing its catalog calls
# for that long after an outage.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


class DefinitionNotFound(LookupError):
    """The catalog says the named definition does not exist; the message says which."""


class CatalogUnavailableError(RuntimeError):
    """The catalog could not be asked (down, restarting): worth retrying later."""


class CatalogClient:
    def __init__(self, address: str) -> None:
        self._channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._catalog = catalog_grpc.CatalogServiceStub(self._channel)
        self._internal = internal_grpc.CatalogInternalServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: object, request: object) -> object:
        try:
            # wait_for_ready: a catalog restarting gets the call once it is back (within
            # the timeout) instead of an UNAVAILABLE the moment its channel reconnects.
            return await method(  # type: ignore[operator]
                request, timeout=CALL_TIMEOUT_SECONDS, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise DefinitionNotFound(error.details() or "not found") from None
            raise CatalogUnavailableError(
                f"catalog call failed: {error.code().name}: {error.details()}"
            ) from None

    async def get_job(self, name: str) -> resources.Job:
        reply = await self._call(self._catalog.GetJob, catalog_pb2.GetJobRequest(name=name))
        return reply.job  # type: ignore[attr-defined, no-any-return]

    async def get_job_definition(self, name: str) -> tuple[resources.Job, bool]:
        """The job and whether DeleteJob marked it; unlike get_job, a marked job is found."""
        reply = await self._call(
            self._internal.GetJobDefinition, internal_pb2.GetJobDefinitionRequest(name=name)
        )
        return reply.job, reply.deleted  # type: ignore[attr-defined]

    async def list_deleted_jobs(self, *, after_name: str = "", page_size: int = 0) -> list[str]:
        """A page of the names of the jobs DeleteJob marked, in name order."""
        reply = await self._call(
            self._internal.ListDeletedJobs,
            internal_pb2.ListDeletedJobsRequest(after_name=after_name, page_size=page_size),
        )
        return list(reply.names)  # type: ignore[attr-defined]

    async def remove_deleted_job(self, name: str) -> None:
        await self._call(
            self._internal.RemoveDeletedJob, internal_pb2.RemoveDeletedJobRequest(name=name)
        )

    async def get_content(self, name: str, version: int = 0) -> resources.Content:
        reply = await self._call(
            self._catalog.GetContent, catalog_pb2.GetContentRequest(name=name, version=version)
        )
        return reply.content  # type: ignore[attr-defined, no-any-return]

    async def get_target(self, target_id: str) -> resources.Target:
        reply = await self._call(
            self._catalog.GetTarget, catalog_pb2.GetTargetRequest(target_id=target_id)
        )
        return reply.target  # type: ignore[attr-defined, no-any-return]

    async def list_children(self, collection_id: str) -> list[resources.Target]:
        children: list[resources.Target] = []
        token = ""
        while True:
            reply = await self._call(
                self._catalog.ListTargets,
                catalog_pb2.ListTargetsRequest(
                    parent_target_id=collection_id, page_size=1000, page_token=token
                ),
            )
            children.extend(reply.targets)  # type: ignore[attr-defined]
            token = reply.next_page_token  # type: ignore[attr-defined]
            if not token:
                return children

    async def get_execution_policy(self, name: str) -> resources.ExecutionPolicy:
        reply = await self._call(
            self._catalog.GetExecutionPolicy,
            catalog_pb2.GetExecutionPolicyRequest(name=name or "default"),
        )
        return reply.execution_policy  # type: ignore[attr-defined, no-any-return]

    async def get_credential_secret(self, name: str) -> internal_pb2.GetCredentialSecretResponse:
        reply = await self._call(
            self._internal.GetCredentialSecret,
            internal_pb2.GetCredentialSecretRequest(name=name),
        )
        return reply  # type: ignore[return-value]
