"""Control-database rows → fleetjobs.v1 messages."""

from __future__ import annotations

from fleetjobs.core.db.models import AttemptRow, ChildExecutionRow, ParentExecutionRow
from fleetjobs.core.grpc import to_timestamp
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.v1 import execution_resources_pb2 as pb


def parent_to_proto(row: ParentExecutionRow) -> pb.JobExecution:
    return pb.JobExecution(
        job_execution_id=row.job_execution_id,
        job_name=row.job_name,
        content_version=row.content_version,
        schedule_name=row.schedule_name,
        fire_time=to_timestamp(row.fire_time),
        target_id=row.target_id,
        lifecycle=Lifecycle(row.lifecycle).to_proto(),
        message=row.message,
        create_time=to_timestamp(row.create_time),
        start_time=to_timestamp(row.start_time),
        end_time=to_timestamp(row.end_time),
        counts={f"LIFECYCLE_{name}": count for name, count in (row.counts or {}).items()},
    )


def child_to_proto(
    row: ChildExecutionRow, *, job_name: str = "", content_version: int = 0
) -> pb.JobExecution:
    return pb.JobExecution(
        job_execution_id=row.job_execution_id,
        parent_job_execution_id=row.parent_job_execution_id,
        job_name=row.job_name or job_name,
        content_version=content_version,
        target_id=row.target_id,
        engine=row.engine,
        server_name=row.server_name,
        database_name=row.database_name,
        lifecycle=Lifecycle(row.lifecycle).to_proto(),
        message=row.message,
        attempts=row.current_attempt,
        create_time=to_timestamp(row.create_time),
        start_time=to_timestamp(row.start_time),
        end_time=to_timestamp(row.end_time),
    )


def attempt_to_proto(row: AttemptRow) -> pb.JobTaskExecution:
    return pb.JobTaskExecution(
        job_task_execution_id=row.job_task_execution_id,
        job_execution_id=row.job_execution_id,
        attempt=row.attempt,
        server_name=row.server_name,
        database_name=row.database_name,
        lifecycle=Lifecycle(row.lifecycle).to_proto(),
        message=row.message,
        error_class=row.error_class,
        messages=list(row.messages or []),
        start_time=to_timestamp(row.start_time),
        end_time=to_timestamp(row.end_time),
        rows_collected=row.rows_collected,
    )
