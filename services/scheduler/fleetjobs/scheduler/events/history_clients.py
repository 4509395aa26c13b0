"""The internal RPCs of the services that write a job's history, for removing it: each
service deletes its own rows (one writer per row, ADR 1)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from fleetjobs.core.clients import CHANNEL_OPTIONS
from fleetjobs.internal.v1 import executor_internal_service_pb2 as executor_pb
from fleetjobs.internal.v1 import executor_internal_service_pb2_grpc as executor_grpc
from fleetjobs.internal.v1 import results_internal_service_pb2 as results_pb
from fleetjobs.internal.v1 import results_internal_service_pb2_grpc as results_grpc

CALL_TIMEOUT_SECONDS = 30.0


class HistoryClients:
    def __init__(self, *, executor_address: str, results_address: str) -> None:
        self._executor_channel = grpc.aio.insecure_channel(
            executor_address, options=CHANNEL_OPTIONS
        )
        self._results_channel = grpc.aio.insecure_channel(results_address, options=CHANNEL_OPTIONS)
        self._executor = executor_grpc.ExecutorInternalServiceStub(self._executor_channel)
        self._results = results_grpc.ResultsInternalServiceStub(self._results_channel)

    async def close(self) -> None:
        await self._executor_channel.close()
        await self._results_channel.close()

    async def purge_result_sets(self, parent_ids: Sequence[str]) -> int:
        reply = await self._results.PurgeResultSets(
            results_pb.PurgeResultSetsRequest(job_execution_ids=parent_ids),
            timeout=CALL_TIMEOUT_SECONDS,
        )
        return int(reply.rows_deleted)

    async def purge_executions(
        self, job_name: str, parent_ids: Sequence[str], *, job_removed: bool = False
    ) -> int:
        reply = await self._executor.PurgeExecutions(
            executor_pb.PurgeExecutionsRequest(
                job_name=job_name, job_execution_ids=parent_ids, job_removed=job_removed
            ),
            timeout=CALL_TIMEOUT_SECONDS,
        )
        return int(reply.rows_deleted)
