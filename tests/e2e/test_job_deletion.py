"""DeleteJob as the seeds describe it: the job is marked and gone for users at once, its
running executions are not canceled, and once none is active the job is removed with its
whole history (parents, children, attempts, snapshots, result-set records), each row by the
service that wrote it. The rows in the destination table are the user's and stay."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import grpc
import psycopg
import pytest
from sqlalchemy import func, select

from fleetjobs.core.db import make_sync_engine
from fleetjobs.core.db.models import (
    AttemptRow,
    ChildExecutionRow,
    ExecutionSnapshotRow,
    JobRow,
    ParentExecutionRow,
    ResultSetRow,
)
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.internal.v1 import executor_internal_service_pb2 as ipb
from fleetjobs.internal.v1 import executor_internal_service_pb2_grpc as ipb_grpc
from fleetjobs.testing import _api as api
from fleetjobs.testing._faults import wait_until
from fleetjobs.testing._servers import postgres_databases, postgres_sleeping, postgres_url
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as c
from fleetjobs.v1 import execution_service_pb2 as e

SLEEP_SECONDS = 4


@pytest.fixture(scope="module")
def databases(postgres: None) -> Iterator[list[str]]:
    """Three targets and a destination (the last)."""
    with postgres_databases(4, prefix="fjt_delete") as names:
        yield names


def _history_rows(control_db_url: str, job_name: str, parent_ids: list[str]) -> dict[str, int]:
    engine = make_sync_engine(control_db_url)
    counts = {
        "jobs": select(func.count()).where(JobRow.name == job_name),
        "parents": select(func.count()).where(ParentExecutionRow.job_name == job_name),
        "snapshots": select(func.count()).where(ExecutionSnapshotRow.job_name == job_name),
        "children": select(func.count()).where(ChildExecutionRow.job_name == job_name),
        "attempts": select(func.count()).where(AttemptRow.parent_job_execution_id.in_(parent_ids)),
        "result_sets": select(func.count()).where(
            ResultSetRow.parent_job_execution_id.in_(parent_ids)
        ),
    }
    try:
        with engine.connect() as connection:
            return {
                what: int(connection.execute(query).scalar_one()) for what, query in counts.items()
            }
    finally:
        engine.dispose()


def _destination_rows(database: str, table: str) -> int:
    with psycopg.connect(postgres_url(database)) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0


def _define(suite: RunningSuite, targets: list[str], destination: str, job_name: str) -> str:
    credential = api.credential(suite, username="postgres", password="x", allowed=["127.0.0.1"])
    members = [
        api.database_target(suite, engine="postgresql", server="127.0.0.1", database=d)
        for d in targets
    ]
    table = f"t_{uuid.uuid4().hex[:8]}"
    suite.catalog.CreateJob(
        c.CreateJobRequest(
            job=r.Job(
                name=job_name,
                content_name=api.content(
                    suite,
                    f"SELECT pg_sleep({SLEEP_SECONDS}) IS NULL AS slept, current_database() AS db;",
                ),
                target_id=api.collection(suite, members),
                credential_name=credential,
                result_destination=r.ResultDestination(
                    engine="postgresql",
                    server_name="127.0.0.1",
                    database_name=destination,
                    table_name=table,
                    credential_name=credential,
                ),
            )
        )
    )
    return table


def _code(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()  # type: ignore[no-any-return]


def test_delete_waits_for_running_executions_then_removes_the_history(
    suite: RunningSuite, databases: list[str], control_db_url: str
) -> None:
    *targets, destination = databases
    job_name = api.name("doomed")
    table = _define(suite, targets, destination, job_name)
    first = api.run(suite, job_name)
    assert Lifecycle.from_proto(first.lifecycle) is Lifecycle.SUCCEEDED
    running = suite.executions.StartJobExecution(
        e.StartJobExecutionRequest(job_name=job_name)
    ).job_execution.job_execution_id
    wait_until(lambda: postgres_sleeping(targets) == len(targets), 30, "the second run sleeps")

    suite.catalog.DeleteJob(c.DeleteJobRequest(name=job_name))

    # Gone for users at once ...
    assert _code(lambda: suite.catalog.GetJob(c.GetJobRequest(name=job_name))) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert (
        _code(
            lambda: suite.executions.StartJobExecution(
                e.StartJobExecutionRequest(job_name=job_name)
            )
        )
        == grpc.StatusCode.NOT_FOUND
    )
    # ... but its name is not free until it is removed.
    assert (
        _code(
            lambda: suite.catalog.CreateJob(
                c.CreateJobRequest(
                    job=r.Job(name=job_name, content_name="x", target_id=str(uuid.uuid4()))
                )
            )
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    # The running execution is not canceled; the job and its history stay while it runs
    # (the scheduler looks every 5 s; the script sleeps SLEEP_SECONDS).
    kept = _history_rows(control_db_url, job_name, [first.job_execution_id, running])
    assert kept["jobs"] == 1 and kept["parents"] == 2 and kept["snapshots"] == 2, kept
    assert kept["children"] == 2 * len(targets), kept
    final = suite.wait_terminal(running, timeout=60)
    assert Lifecycle.from_proto(final.lifecycle) is Lifecycle.SUCCEEDED
    assert _destination_rows(destination, table) == 2 * len(targets)

    parent_ids = [first.job_execution_id, running]
    wait_until(
        lambda: not any(_history_rows(control_db_url, job_name, parent_ids).values()),
        60,
        "the job and its history are removed",
    )
    listed = suite.executions.ListJobExecutions(
        e.ListJobExecutionsRequest(job_name=job_name, include_inactive=True)
    ).job_executions
    assert list(listed) == []
    assert (
        _code(
            lambda: suite.executions.GetJobExecution(
                e.GetJobExecutionRequest(job_execution_id=running)
            )
        )
        == grpc.StatusCode.NOT_FOUND
    )
    # The user's result rows stay; the name is free again.
    assert _destination_rows(destination, table) == 2 * len(targets)
    _define(suite, targets, destination, job_name)
    suite.catalog.GetJob(c.GetJobRequest(name=job_name))


def test_a_job_with_no_execution_is_removed_within_a_round(
    suite: RunningSuite, databases: list[str], control_db_url: str
) -> None:
    *targets, destination = databases
    job_name = api.name("idle")
    _define(suite, targets, destination, job_name)
    suite.catalog.DeleteJob(c.DeleteJobRequest(name=job_name))
    wait_until(
        lambda: _history_rows(control_db_url, job_name, [])["jobs"] == 0,
        30,
        "the job row is removed",
    )


def test_the_executors_purge_refuses_what_it_must_not_delete(
    suite: RunningSuite, databases: list[str], control_db_url: str
) -> None:
    """The internal RPC the scheduler drives: another job's executions are refused, and so
    is an execution still running."""
    *targets, destination = databases
    job_name = api.name("guarded")
    _define(suite, targets[:1], destination, job_name)
    running = suite.executions.StartJobExecution(
        e.StartJobExecutionRequest(job_name=job_name)
    ).job_execution.job_execution_id
    wait_until(lambda: postgres_sleeping(targets[:1]) == 1, 30, "it runs")
    executor = ipb_grpc.ExecutorInternalServiceStub(
        grpc.insecure_channel(suite.settings.addresses["executor"])
    )
    assert (
        _code(
            lambda: executor.PurgeExecutions(
                ipb.PurgeExecutionsRequest(job_name="another-job", job_execution_ids=[running])
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        _code(
            lambda: executor.PurgeExecutions(
                ipb.PurgeExecutionsRequest(job_name=job_name, job_execution_ids=[running])
            )
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    assert (
        _code(
            lambda: executor.PurgeExecutions(
                ipb.PurgeExecutionsRequest(job_name=job_name, job_execution_ids=["not-an-id"])
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    suite.wait_terminal(running, timeout=60)
    assert _history_rows(control_db_url, job_name, [running])["children"] == 1
