from __future__ import annotations

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.catalog.api._base import ServicerBase, mask_paths, page_of, reject, required
from fleetjobs.catalog.api._convert import job_spec, job_to_proto, row_job_spec, store_job_spec
from fleetjobs.catalog.db import Contents, Credentials, ExecutionPolicies, Jobs, Targets
from fleetjobs.catalog.domain import (
    DEFAULT_POLICY_NAME,
    JOB_MASK_PATHS,
    JobSpec,
    credential_required,
    job_violations,
    mask_violations,
    merge_job,
    name_violations,
)
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import JobRow
from fleetjobs.core.grpc import already_exists, failed_precondition, invalid_argument, not_found
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as pb


async def _check_references(session: AsyncSession, spec: JobSpec) -> None:
    """Everything a job names must exist. The rows are read FOR SHARE (PostgreSQL), so a
    concurrent delete of one of them waits for this transaction and then sees the job."""
    if await Contents(session).latest(spec.content_name, for_share=True) is None:
        raise not_found("content", spec.content_name)
    targets = Targets(session)
    target = await targets.get(spec.target_id, for_share=True)
    if target is None:
        raise not_found("target", spec.target_id)
    credentials = Credentials(session)
    if spec.credential_name and await credentials.get(spec.credential_name, for_share=True) is None:
        raise not_found("credential", spec.credential_name)
    policy = spec.execution_policy_name
    if (
        policy
        and policy != DEFAULT_POLICY_NAME
        and await ExecutionPolicies(session).get(policy, for_share=True) is None
    ):
        raise not_found("execution policy", policy)
    destination = spec.result_destination
    if (
        destination is not None
        and destination.credential_name
        and await credentials.get(destination.credential_name, for_share=True) is None
    ):
        raise not_found("credential", destination.credential_name)
    if not spec.credential_name:
        engines = await targets.database_engines_under(spec.target_id)
        if credential_required(engines):
            others = sorted(engine for engine in engines if engine != "sqlite")
            raise invalid_argument(
                [
                    (
                        "job.credential_name",
                        "is required: the target holds databases that are not sqlite "
                        f"({', '.join(others)})",
                    )
                ]
            )


class JobsApi(ServicerBase):
    async def CreateJob(
        self, request: pb.CreateJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateJobResponse:
        spec = job_spec(request.job)
        reject(job_violations(spec))

        async def create(session: AsyncSession) -> tuple[str, resources.Job]:
            jobs = Jobs(session)
            existing = await jobs.get(spec.name, include_deleted=True)
            if existing is not None and existing.delete_time is not None:
                raise failed_precondition(
                    f"job {spec.name!r} was deleted and is removed once its executions end; "
                    "stop them (StopJobExecution) or wait, then create it again",
                    reason="JOB_BEING_DELETED",
                )
            if existing is not None:
                raise already_exists("job", spec.name)
            await _check_references(session, spec)
            now = utcnow()
            row = JobRow(name=spec.name, create_time=now, update_time=now)
            store_job_spec(row, spec)
            jobs.add(row)
            return row.name, job_to_proto(row)

        async def conflict(session: AsyncSession) -> resources.Job:
            raise already_exists("job", spec.name)

        job = await self._create_once(
            scope="CreateJob",
            request_id=request.request_id,
            what="job",
            create=create,
            load=self._load_job,
            on_conflict=conflict,
        )
        return pb.CreateJobResponse(job=job)

    async def GetJob(
        self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJobResponse:
        required(request.name, "name")
        async with self._sessions() as session:
            job = await self._load_job(session, request.name)
        if job is None:
            raise not_found("job", request.name)
        return pb.GetJobResponse(job=job)

    async def ListJobs(
        self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJobsResponse:
        page = page_of(request.page_size, request.page_token)
        async with self._sessions() as session:
            rows = await Jobs(session).list(offset=page.offset, limit=page.limit)
        shown, token = page.finish(rows)
        return pb.ListJobsResponse(jobs=[job_to_proto(row) for row in shown], next_page_token=token)

    async def UpdateJob(
        self, request: pb.UpdateJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateJobResponse:
        """With a mask, the masked fields are replaced (an empty one is cleared); without
        one, every field given: non-empty strings, a result_destination, and
        allow_concurrent_executions when true. The result is checked as a whole again."""
        given = job_spec(request.job)
        paths = mask_paths(request.HasField("update_mask"), request.update_mask.paths)
        reject(
            [
                *name_violations(given.name, "job.name"),
                *mask_violations(paths or (), JOB_MASK_PATHS),
            ]
        )
        async with self._sessions.begin() as session:
            row = await Jobs(session).get(given.name)
            if row is None:
                raise not_found("job", given.name)
            merged = merge_job(row_job_spec(row), given, paths)
            reject(job_violations(merged))
            await _check_references(session, merged)
            store_job_spec(row, merged)
            row.update_time = utcnow()
            job = job_to_proto(row)
        return pb.UpdateJobResponse(job=job)

    async def DeleteJob(
        self, request: pb.DeleteJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteJobResponse:
        """Marks the job, as the seeds' asynchronous deletion does: it is gone for users at
        once, running executions go on (StopJobExecution stops them), and the scheduler
        removes the job with its history once none is active."""
        required(request.name, "name")
        async with self._sessions.begin() as session:
            if not await Jobs(session).mark_deleted(request.name, utcnow()):
                raise not_found("job", request.name)
        return pb.DeleteJobResponse()

    @staticmethod
    async def _load_job(session: AsyncSession, name: str) -> resources.Job | None:
        row = await Jobs(session).get(name)
        return None if row is None else job_to_proto(row)
