"""Stored rows ↔ protobuf messages. A credential's password and ciphertext never leave here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from fleetjobs.catalog.domain import (
    KIND_COLLECTION,
    DatabaseTargetSpec,
    EffectivePolicy,
    JobSpec,
    PolicyValues,
    ResultDestinationSpec,
)
from fleetjobs.core.db.models import (
    ContentVersionRow,
    CredentialRow,
    ExecutionPolicyRow,
    JobRow,
    TargetRow,
)
from fleetjobs.core.grpc import duration_ms, to_duration, to_timestamp
from fleetjobs.v1 import catalog_resources_pb2 as resources


def _stamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    return to_timestamp(value)


def credential_to_proto(row: CredentialRow) -> resources.Credential:
    # password and encrypted_password are input only (docs/api.md, "Credential"): left empty
    # on purpose.
    return resources.Credential(
        name=row.name,
        username=row.username,
        allowed_servers=list(row.allowed_servers),
        create_time=_stamp(row.create_time),
        update_time=_stamp(row.update_time),
        key_id=row.key_id,
    )


def content_to_proto(row: ContentVersionRow) -> resources.Content:
    return resources.Content(
        name=row.name,
        version=row.version,
        comment=row.comment,
        script=resources.Script(command_text=row.command_text),
        create_time=_stamp(row.create_time),
    )


def database_spec(message: resources.DatabaseTarget) -> DatabaseTargetSpec:
    return DatabaseTargetSpec(
        engine=message.engine,
        server_name=message.server_name,
        port=message.port,
        database_name=message.database_name,
        options=dict(message.options),
    )


def target_to_proto(row: TargetRow, child_count: int = 0) -> resources.Target:
    if row.kind == KIND_COLLECTION:
        return resources.Target(
            target_id=row.target_id,
            custom_collection=resources.CustomCollectionTarget(name=row.collection_name or ""),
            create_time=_stamp(row.create_time),
            child_count=child_count,
        )
    return resources.Target(
        target_id=row.target_id,
        database=resources.DatabaseTarget(
            engine=row.engine or "",
            server_name=row.server_name or "",
            port=row.port or 0,
            database_name=row.database_name or "",
            options=dict(row.options or {}),
        ),
        create_time=_stamp(row.create_time),
    )


def policy_values(message: resources.ExecutionPolicy) -> PolicyValues:
    def millis(field: str) -> int | None:
        present = message.HasField(field)  # type: ignore[arg-type]  # names below are fields
        return duration_ms(getattr(message, field)) if present else None

    return PolicyValues(
        job_timeout_ms=millis("job_timeout"),
        initial_retry_interval_ms=millis("initial_retry_interval"),
        maximum_retry_interval_ms=millis("maximum_retry_interval"),
        retry_interval_backoff_coefficient=(
            message.retry_interval_backoff_coefficient
            if message.HasField("retry_interval_backoff_coefficient")
            else None
        ),
        maximum_attempts=(
            message.maximum_attempts if message.HasField("maximum_attempts") else None
        ),
        # Order kept, repeats dropped.
        non_retryable_error_classes=tuple(dict.fromkeys(message.non_retryable_error_classes)),
    )


def row_policy_values(row: ExecutionPolicyRow) -> PolicyValues:
    return PolicyValues(
        job_timeout_ms=row.job_timeout_ms,
        initial_retry_interval_ms=row.initial_retry_interval_ms,
        maximum_retry_interval_ms=row.maximum_retry_interval_ms,
        retry_interval_backoff_coefficient=row.retry_interval_backoff_coefficient,
        maximum_attempts=row.maximum_attempts,
        non_retryable_error_classes=tuple(row.non_retryable_error_classes or ()),
    )


def store_policy_values(row: ExecutionPolicyRow, values: PolicyValues) -> None:
    row.job_timeout_ms = values.job_timeout_ms
    row.initial_retry_interval_ms = values.initial_retry_interval_ms
    row.maximum_retry_interval_ms = values.maximum_retry_interval_ms
    row.retry_interval_backoff_coefficient = values.retry_interval_backoff_coefficient
    row.maximum_attempts = values.maximum_attempts
    row.non_retryable_error_classes = list(values.non_retryable_error_classes)


def policy_to_proto(
    name: str, policy: EffectivePolicy, create_time: datetime | None = None
) -> resources.ExecutionPolicy:
    return resources.ExecutionPolicy(
        name=name,
        job_timeout=to_duration(policy.job_timeout_ms),
        initial_retry_interval=to_duration(policy.initial_retry_interval_ms),
        maximum_retry_interval=to_duration(policy.maximum_retry_interval_ms),
        retry_interval_backoff_coefficient=policy.retry_interval_backoff_coefficient,
        maximum_attempts=policy.maximum_attempts,
        non_retryable_error_classes=list(policy.non_retryable_error_classes),
        create_time=_stamp(create_time),
    )


def job_spec(message: resources.Job) -> JobSpec:
    destination = None
    if message.HasField("result_destination"):
        given = message.result_destination
        destination = ResultDestinationSpec(
            engine=given.engine,
            server_name=given.server_name,
            port=given.port,
            database_name=given.database_name,
            schema_name=given.schema_name,
            table_name=given.table_name,
            credential_name=given.credential_name,
        )
    return JobSpec(
        name=message.name,
        content_name=message.content_name,
        credential_name=message.credential_name,
        target_id=message.target_id,
        execution_policy_name=message.execution_policy_name,
        result_destination=destination,
        allow_concurrent_executions=message.allow_concurrent_executions,
    )


def row_job_spec(row: JobRow) -> JobSpec:
    stored = row.result_destination
    return JobSpec(
        name=row.name,
        content_name=row.content_name,
        credential_name=row.credential_name,
        target_id=row.target_id,
        execution_policy_name=row.execution_policy_name,
        result_destination=None if stored is None else _destination_from_json(stored),
        allow_concurrent_executions=row.allow_concurrent_executions,
    )


def store_job_spec(row: JobRow, spec: JobSpec) -> None:
    row.content_name = spec.content_name
    row.credential_name = spec.credential_name
    row.target_id = spec.target_id
    row.execution_policy_name = spec.execution_policy_name
    row.result_destination = (
        None if spec.result_destination is None else _destination_to_json(spec.result_destination)
    )
    row.allow_concurrent_executions = spec.allow_concurrent_executions


def job_to_proto(row: JobRow) -> resources.Job:
    spec = row_job_spec(row)
    destination = spec.result_destination
    return resources.Job(
        name=row.name,
        content_name=row.content_name,
        credential_name=row.credential_name,
        target_id=row.target_id,
        execution_policy_name=row.execution_policy_name,
        result_destination=(
            None
            if destination is None
            else resources.ResultDestination(**_destination_to_json(destination))
        ),
        allow_concurrent_executions=row.allow_concurrent_executions,
        create_time=_stamp(row.create_time),
        update_time=_stamp(row.update_time),
    )


def _destination_to_json(spec: ResultDestinationSpec) -> dict[str, Any]:
    spec = spec.normalised()
    return {
        "engine": spec.engine,
        "server_name": spec.server_name,
        "port": spec.port,
        "database_name": spec.database_name,
        "schema_name": spec.schema_name,
        "table_name": spec.table_name,
        "credential_name": spec.credential_name,
    }


def _destination_from_json(stored: Mapping[str, Any]) -> ResultDestinationSpec:
    return ResultDestinationSpec(
        engine=str(stored.get("engine", "")),
        server_name=str(stored.get("server_name", "")),
        port=int(stored.get("port", 0)),
        database_name=str(stored.get("database_name", "")),
        schema_name=str(stored.get("schema_name", "")),
        table_name=str(stored.get("table_name", "")),
        credential_name=str(stored.get("credential_name", "")),
    )
