"""Short helpers that define things through the public gRPC API, as a user's script would."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from google.protobuf.duration_pb2 import Duration

from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as c
from fleetjobs.v1 import execution_service_pb2 as e


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def credential(
    suite: Any, *, username: str, password: str, allowed: Iterable[str], credential_name: str = ""
) -> str:
    credential_name = credential_name or name("cred")
    suite.catalog.CreateCredential(
        c.CreateCredentialRequest(
            credential=r.Credential(
                name=credential_name,
                username=username,
                password=password,
                allowed_servers=list(allowed),
            )
        )
    )
    return credential_name


def database_target(
    suite: Any,
    *,
    engine: str,
    database: str,
    server: str = "",
    port: int = 0,
    options: dict[str, str] | None = None,
) -> str:
    reply = suite.catalog.CreateTarget(
        c.CreateTargetRequest(
            target=r.Target(
                database=r.DatabaseTarget(
                    engine=engine,
                    server_name=server,
                    port=port,
                    database_name=database,
                    options=options or {},
                )
            )
        )
    )
    return str(reply.target.target_id)


def collection(suite: Any, members: Iterable[str]) -> str:
    collection_name = name("coll")
    reply = suite.catalog.CreateTarget(
        c.CreateTargetRequest(
            target=r.Target(custom_collection=r.CustomCollectionTarget(name=collection_name))
        )
    )
    for member in members:
        suite.catalog.AddChildTarget(
            c.AddChildTargetRequest(custom_collection_name=collection_name, child_target_id=member)
        )
    return str(reply.target.target_id)


def content(suite: Any, script: str) -> str:
    content_name = name("content")
    suite.catalog.CreateContent(
        c.CreateContentRequest(
            content=r.Content(name=content_name, script=r.Script(command_text=script))
        )
    )
    return content_name


def policy(
    suite: Any,
    *,
    initial_ms: int,
    maximum_ms: int,
    coefficient: float,
    attempts: int,
    non_retryable: Iterable[str] = (),
) -> str:
    policy_name = name("policy")
    suite.catalog.CreateExecutionPolicy(
        c.CreateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(
                name=policy_name,
                initial_retry_interval=Duration(
                    seconds=initial_ms // 1000, nanos=(initial_ms % 1000) * 1_000_000
                ),
                maximum_retry_interval=Duration(
                    seconds=maximum_ms // 1000, nanos=(maximum_ms % 1000) * 1_000_000
                ),
                retry_interval_backoff_coefficient=coefficient,
                maximum_attempts=attempts,
                non_retryable_error_classes=list(non_retryable),
            )
        )
    )
    return policy_name


def job(
    suite: Any,
    *,
    content_name: str,
    target_id: str,
    credential_name: str = "",
    policy_name: str = "",
    destination: r.ResultDestination | None = None,
) -> str:
    job_name = name("job")
    suite.catalog.CreateJob(
        c.CreateJobRequest(
            job=r.Job(
                name=job_name,
                content_name=content_name,
                target_id=target_id,
                credential_name=credential_name,
                execution_policy_name=policy_name,
                result_destination=destination,
            )
        )
    )
    return job_name


def run(suite: Any, job_name: str, timeout: float = 120.0) -> Any:
    started = suite.executions.StartJobExecution(e.StartJobExecutionRequest(job_name=job_name))
    return suite.wait_terminal(started.job_execution.job_execution_id, timeout=timeout)
