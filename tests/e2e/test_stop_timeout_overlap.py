"""StopJobExecution and the job timeout cancel running statements on the targets and end
the execution CANCELED / TIMED_OUT with no result row written; overlapping executions skip
busy databases; retries follow the policy's growing delays."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import grpc
import psycopg
import pytest
from google.protobuf.duration_pb2 import Duration

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._faults import wait_until
from fleetjobs.testing._servers import postgres_databases, postgres_sleeping, postgres_url
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as c
from fleetjobs.v1 import execution_service_pb2 as e


@pytest.fixture(scope="module")
def control_db_url(sqlite_control_db: str) -> str:
    return sqlite_control_db


@pytest.fixture(scope="module")
def sleepers(postgres: None) -> Iterator[list[str]]:
    """Fifty target databases and a destination (the last)."""
    with postgres_databases(51, prefix="fjt_stop") as names:
        yield names


def _sleep_job(
    suite: RunningSuite,
    targets: list[str],
    destination: str,
    *,
    seconds: float,
    policy: str = "",
    allow_concurrent: bool = False,
) -> tuple[str, str]:
    credential = api.credential(suite, username="postgres", password="x", allowed=["127.0.0.1"])
    members = [
        api.database_target(suite, engine="postgresql", server="127.0.0.1", database=d)
        for d in targets
    ]
    table = f"t_{uuid.uuid4().hex[:8]}"
    job = api.job(
        suite,
        content_name=api.content(
            suite, f"SELECT pg_sleep({seconds}) IS NULL AS slept, current_database() AS db;"
        ),
        target_id=api.collection(suite, members),
        credential_name=credential,
        policy_name=policy,
        destination=r.ResultDestination(
            engine="postgresql",
            server_name="127.0.0.1",
            database_name=destination,
            table_name=table,
            credential_name=credential,
        ),
    )
    if allow_concurrent:
        suite.catalog.UpdateJob(
            c.UpdateJobRequest(job=r.Job(name=job, allow_concurrent_executions=True))
        )
    return job, table


def _rows(destination: str, table: str) -> int:
    with psycopg.connect(postgres_url(destination)) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f'"{table}"',)).fetchone()
        if not exists or exists[0] is None:
            return 0
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        return int(row[0]) if row else 0


def test_stop_cancels_running_statements_and_writes_no_rows(
    suite: RunningSuite, sleepers: list[str]
) -> None:
    *targets, destination = sleepers
    job, table = _sleep_job(suite, targets, destination, seconds=60)
    started = suite.executions.StartJobExecution(e.StartJobExecutionRequest(job_name=job))
    execution_id = started.job_execution.job_execution_id
    wait_until(lambda: postgres_sleeping(targets) >= 8, 30, "the scripts are running")

    stopped = suite.executions.StopJobExecution(
        e.StopJobExecutionRequest(job_execution_id=execution_id)
    ).job_execution

    assert stopped.job_execution_id == execution_id
    final = suite.wait_terminal(execution_id, timeout=30)
    assert Lifecycle.from_proto(final.lifecycle) is Lifecycle.CANCELED
    assert {Lifecycle.from_proto(child.lifecycle) for child in final.child_executions} == {
        Lifecycle.CANCELED
    }
    wait_until(lambda: postgres_sleeping(targets) == 0, 10, "no statement of the job remains")
    assert _rows(destination, table) == 0
    with pytest.raises(grpc.RpcError) as again:
        suite.executions.StopJobExecution(e.StopJobExecutionRequest(job_execution_id=execution_id))
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_job_timeout_cancels_running_statements_and_ends_timed_out(
    suite: RunningSuite, sleepers: list[str]
) -> None:
    *targets, destination = sleepers
    policy = api.name("timeout")
    suite.catalog.CreateExecutionPolicy(
        c.CreateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(name=policy, job_timeout=Duration(seconds=3))
        )
    )
    job, table = _sleep_job(suite, targets, destination, seconds=60, policy=policy)

    final = api.run(suite, job, timeout=60)

    assert Lifecycle.from_proto(final.lifecycle) is Lifecycle.TIMED_OUT
    assert {Lifecycle.from_proto(child.lifecycle) for child in final.child_executions} == {
        Lifecycle.TIMED_OUT
    }
    wait_until(lambda: postgres_sleeping(targets) == 0, 10, "no statement of the job remains")
    assert _rows(destination, table) == 0


def test_stop_requests_are_checked(suite: RunningSuite, sleepers: list[str]) -> None:
    *targets, destination = sleepers
    job, _ = _sleep_job(suite, targets[:2], destination, seconds=0)
    finished = api.run(suite, job)
    stop = suite.executions.StopJobExecution
    for execution_id, code in (
        (finished.job_execution_id, grpc.StatusCode.FAILED_PRECONDITION),
        (finished.child_executions[0].job_execution_id, grpc.StatusCode.INVALID_ARGUMENT),
        (str(uuid.uuid4()), grpc.StatusCode.NOT_FOUND),
        ("not-an-id", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            stop(e.StopJobExecutionRequest(job_execution_id=execution_id))
        assert refused.value.code() == code


def test_overlapping_execution_skips_busy_databases(
    suite: RunningSuite, sleepers: list[str]
) -> None:
    *targets, destination = sleepers
    busy = targets[:3]
    job, _ = _sleep_job(suite, busy, destination, seconds=3)
    first = suite.executions.StartJobExecution(e.StartJobExecutionRequest(job_name=job))
    wait_until(lambda: postgres_sleeping(busy) == 3, 30, "the first execution runs")

    second = api.run(suite, job)

    assert Lifecycle.from_proto(second.lifecycle) is Lifecycle.SUCCEEDED_WITH_SKIPPED
    assert {Lifecycle.from_proto(child.lifecycle) for child in second.child_executions} == {
        Lifecycle.SKIPPED
    }
    assert all(
        first.job_execution.job_execution_id in child.message for child in second.child_executions
    )
    done = suite.wait_terminal(first.job_execution.job_execution_id, timeout=60)
    assert Lifecycle.from_proto(done.lifecycle) is Lifecycle.SUCCEEDED


def test_retries_follow_the_policy_delays(suite: RunningSuite) -> None:
    policy = api.policy(suite, initial_ms=1000, maximum_ms=4000, coefficient=2.0, attempts=4)
    credential = api.credential(suite, username="postgres", password="x", allowed=["127.0.0.1"])
    missing = f"fjt_missing_{uuid.uuid4().hex[:8]}"
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=api.database_target(
            suite, engine="postgresql", server="127.0.0.1", database=missing
        ),
        credential_name=credential,
        policy_name=policy,
    )

    final = api.run(suite, job, timeout=60)

    (child,) = final.child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    assert missing in child.message
    attempts = sorted(
        suite.executions.ListJobTaskExecutions(
            e.ListJobTaskExecutionsRequest(job_execution_id=child.job_execution_id)
        ).job_task_executions,
        key=lambda a: a.attempt,
    )
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    starts = [a.start_time.ToDatetime().timestamp() for a in attempts]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # The delay before attempt n is 1 s × 2^(n−2), capped at 4 s: 1, 2, 4. Each gap is at
    # least its delay; a gap can only be longer (the attempt itself takes time).
    for gap, delay in zip(gaps, (1.0, 2.0, 4.0), strict=True):
        assert gap >= delay - 0.05, gaps
    assert gaps == sorted(gaps)
