from __future__ import annotations

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.catalog.api._base import ServicerBase, mask_paths, page_of, reject, required
from fleetjobs.catalog.api._convert import (
    policy_to_proto,
    policy_values,
    row_policy_values,
    store_policy_values,
)
from fleetjobs.catalog.db import ExecutionPolicies, Jobs
from fleetjobs.catalog.domain import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_NAME,
    POLICY_MASK_PATHS,
    effective,
    job_in_use_text,
    mask_violations,
    merge,
    policy_violations,
)
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ExecutionPolicyRow
from fleetjobs.core.grpc import (
    already_exists,
    duration_violations,
    failed_precondition,
    not_found,
)
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as pb

POLICY_DURATIONS = ("job_timeout", "initial_retry_interval", "maximum_retry_interval")
_DEFAULT_READ_ONLY = (
    "the built-in execution policy 'default' cannot be changed or deleted; create a policy of "
    "your own (unset fields inherit default's values)"
)


def _violations(
    given: resources.ExecutionPolicy, domain: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The given Durations' own problems (range, nanos), then the domain's about other
    fields: one violation per field."""
    problems = duration_violations(given, POLICY_DURATIONS, prefix="execution_policy")
    named = {field for field, _ in problems}
    return problems + [(field, why) for field, why in domain if field not in named]


def _default_proto() -> resources.ExecutionPolicy:
    return policy_to_proto(DEFAULT_POLICY_NAME, DEFAULT_POLICY)


def _row_proto(row: ExecutionPolicyRow) -> resources.ExecutionPolicy:
    return policy_to_proto(row.name, effective(row_policy_values(row)), row.create_time)


class PoliciesApi(ServicerBase):
    async def CreateExecutionPolicy(
        self, request: pb.CreateExecutionPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateExecutionPolicyResponse:
        given = request.execution_policy
        values = policy_values(given)
        reject(_violations(given, policy_violations(given.name, values)))

        async def create(session: AsyncSession) -> tuple[str, resources.ExecutionPolicy]:
            policies = ExecutionPolicies(session)
            if given.name == DEFAULT_POLICY_NAME or await policies.get(given.name) is not None:
                raise already_exists("execution policy", given.name)
            # Unset fields stay NULL: they follow default's value, whatever it becomes.
            row = ExecutionPolicyRow(name=given.name, create_time=utcnow())
            store_policy_values(row, values)
            policies.add(row)
            return row.name, _row_proto(row)

        async def conflict(session: AsyncSession) -> resources.ExecutionPolicy:
            raise already_exists("execution policy", given.name)

        policy = await self._create_once(
            scope="CreateExecutionPolicy",
            request_id=request.request_id,
            what="execution policy",
            create=create,
            load=self._load_policy,
            on_conflict=conflict,
        )
        return pb.CreateExecutionPolicyResponse(execution_policy=policy)

    async def GetExecutionPolicy(
        self, request: pb.GetExecutionPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetExecutionPolicyResponse:
        """Effective values: a field the policy left unset shows default's value."""
        required(request.name, "name")
        async with self._sessions() as session:
            policy = await self._load_policy(session, request.name)
        if policy is None:
            raise not_found("execution policy", request.name)
        return pb.GetExecutionPolicyResponse(execution_policy=policy)

    async def ListExecutionPolicies(
        self, request: pb.ListExecutionPoliciesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListExecutionPoliciesResponse:
        page = page_of(request.page_size, request.page_token)
        async with self._sessions() as session:
            policies = ExecutionPolicies(session)
            names = await policies.list_names(
                builtin=DEFAULT_POLICY_NAME, offset=page.offset, limit=page.limit
            )
            shown, token = page.finish(names)
            rows = await policies.get_many([name for name in shown if name != DEFAULT_POLICY_NAME])
        listed = [
            _default_proto() if name == DEFAULT_POLICY_NAME else _row_proto(rows[name])
            for name in shown
            if name == DEFAULT_POLICY_NAME or name in rows  # one deleted between the queries
        ]
        return pb.ListExecutionPoliciesResponse(execution_policies=listed, next_page_token=token)

    async def UpdateExecutionPolicy(
        self, request: pb.UpdateExecutionPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateExecutionPolicyResponse:
        """With a mask, the masked fields are replaced and a masked field left unset goes back
        to inheriting default's value; without one, every field given is replaced."""
        given = request.execution_policy
        required(given.name, "execution_policy.name")
        if given.name == DEFAULT_POLICY_NAME:
            raise failed_precondition(_DEFAULT_READ_ONLY, reason="BUILTIN_POLICY")
        paths = mask_paths(request.HasField("update_mask"), request.update_mask.paths)
        reject(mask_violations(paths or (), POLICY_MASK_PATHS))
        reject(_violations(given, []))
        async with self._sessions.begin() as session:
            row = await ExecutionPolicies(session).get(given.name)
            if row is None:
                raise not_found("execution policy", given.name)
            values = merge(row_policy_values(row), policy_values(given), paths)
            reject(policy_violations(given.name, values))
            store_policy_values(row, values)
            policy = _row_proto(row)
        return pb.UpdateExecutionPolicyResponse(execution_policy=policy)

    async def DeleteExecutionPolicy(
        self, request: pb.DeleteExecutionPolicyRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteExecutionPolicyResponse:
        required(request.name, "name")
        if request.name == DEFAULT_POLICY_NAME:
            raise failed_precondition(_DEFAULT_READ_ONLY, reason="BUILTIN_POLICY")
        async with self._sessions.begin() as session:
            if not await ExecutionPolicies(session).delete(request.name):
                raise not_found("execution policy", request.name)
            job = await Jobs(session).first_using_policy(request.name)
            if job is not None:
                raise failed_precondition(
                    f"execution policy {request.name!r} is used by job "
                    f"{job_in_use_text(*job)}; change or "
                    "delete the jobs that use it first",
                    reason="POLICY_IN_USE",
                )
        return pb.DeleteExecutionPolicyResponse()

    @staticmethod
    async def _load_policy(session: AsyncSession, name: str) -> resources.ExecutionPolicy | None:
        if name == DEFAULT_POLICY_NAME:
            return _default_proto()
        row = await ExecutionPolicies(session).get(name)
        return None if row is None else _row_proto(row)
