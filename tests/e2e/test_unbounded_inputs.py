"""Inputs without bounds, through the suite: forged page tokens on every List RPC, and rows
stored before durations were bounded (an old policy, an old snapshot). Each ends its own
request or execution with a clear reason; nothing stalls the executions after it."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ExecutionPolicyRow, ExecutionSnapshotRow, ParentExecutionRow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._control_rows import child_row, snapshot_row
from fleetjobs.testing._faults import wait_until
from fleetjobs.testing._invariants import attempts_of, children
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as c
from fleetjobs.v1 import execution_service_pb2 as e
from fleetjobs.v1 import results_service_pb2 as rs

# Longer than any execution here may take; on a stalled consumer it ends the test instead.
RUN_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def control_db_url(sqlite_control_db: str) -> str:
    return sqlite_control_db


def _sqlite_target(suite: RunningSuite) -> str:
    return api.database_target(suite, engine="sqlite", database=f"bounds/{api.name('db')}.db")


@pytest.fixture(scope="module")
def healthy_job(suite: RunningSuite) -> str:
    return api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=_sqlite_target(suite),
        destination=r.ResultDestination(
            engine="sqlite", database_name="bounds/results.db", table_name="bounds"
        ),
    )


@pytest.fixture(scope="module")
def finished(suite: RunningSuite, healthy_job: str) -> str:
    """An execution that ran: its id is what the execution-scoped lists are asked about."""
    done = api.run(suite, healthy_job, timeout=RUN_TIMEOUT)
    assert Lifecycle.from_proto(done.lifecycle) is Lifecycle.SUCCEEDED, done.message
    return str(done.job_execution_id)


def _token(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


FORGED = [
    _token({"o": 2**63}),
    _token({"o": 2**63 - 1}),
    _token({"o": 2**64 + 5}),
    _token({"o": -1}),
    _token({"o": 1.5}),
    _token({"o": True}),
    _token({"o": "10"}),
    _token([1, 2]),
    _token({"o": int("9" * 200)}),
    "garbage!!",
    "%%%",
    "A" * 5000,
]


def _list_calls(suite: RunningSuite, execution_id: str) -> dict[str, Any]:
    """Every List RPC that pages, of every service: name → call(page_token)."""
    content_name = api.content(suite, "SELECT 1;")
    return {
        "ListCredentials": lambda t: suite.catalog.ListCredentials(
            c.ListCredentialsRequest(page_token=t)
        ),
        "ListContents": lambda t: suite.catalog.ListContents(c.ListContentsRequest(page_token=t)),
        "ListContentVersions": lambda t: suite.catalog.ListContentVersions(
            c.ListContentVersionsRequest(name=content_name, page_token=t)
        ),
        "ListTargets": lambda t: suite.catalog.ListTargets(c.ListTargetsRequest(page_token=t)),
        "ListExecutionPolicies": lambda t: suite.catalog.ListExecutionPolicies(
            c.ListExecutionPoliciesRequest(page_token=t)
        ),
        "ListJobs": lambda t: suite.catalog.ListJobs(c.ListJobsRequest(page_token=t)),
        "ListJobExecutions": lambda t: suite.executions.ListJobExecutions(
            e.ListJobExecutionsRequest(include_inactive=True, page_token=t)
        ),
        "ListJobExecutions(children)": lambda t: suite.executions.ListJobExecutions(
            e.ListJobExecutionsRequest(parent_job_execution_id=execution_id, page_token=t)
        ),
        "ListJobTaskExecutions": lambda t: suite.executions.ListJobTaskExecutions(
            e.ListJobTaskExecutionsRequest(job_execution_id=execution_id, page_token=t)
        ),
        "ListResultSets": lambda t: suite.results.ListResultSets(
            rs.ListResultSetsRequest(job_execution_id=execution_id, page_token=t)
        ),
    }


def test_forged_page_tokens_are_invalid_arguments_on_every_list(
    suite: RunningSuite, finished: str
) -> None:
    wrong: list[str] = []
    for name, call in _list_calls(suite, finished).items():
        call("")  # the list itself answers
        for token in FORGED:
            try:
                call(token)
            except grpc.RpcError as error:
                if error.code() is grpc.StatusCode.INVALID_ARGUMENT and "page_token" in str(
                    error.details()
                ):
                    continue
                wrong.append(f"{name}({token[:24]}…): {error.code().name} {error.details()}")
            else:
                wrong.append(f"{name}({token[:24]}…): accepted")
    assert wrong == []


def _write(control_db_url: str, statement: Any) -> None:
    engine = create_engine(control_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def test_a_policy_stored_before_the_bound_fails_its_execution_and_the_next_runs(
    suite: RunningSuite, control_db_url: str, healthy_job: str
) -> None:
    policy_name = api.policy(suite, initial_ms=100, maximum_ms=1000, coefficient=2.0, attempts=1)
    # What CreateExecutionPolicy accepted before the bound: a job timeout of 10^12 s.
    _write(
        control_db_url,
        update(ExecutionPolicyRow)
        .where(ExecutionPolicyRow.name == policy_name)
        .values(job_timeout_ms=10**15),
    )
    old = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1;"),
        target_id=_sqlite_target(suite),
        policy_name=policy_name,
    )
    done = api.run(suite, old, timeout=RUN_TIMEOUT)
    assert Lifecycle.from_proto(done.lifecycle) is Lifecycle.FAILED
    assert "job_timeout" in done.message and "366 days" in done.message, done.message
    assert list(done.child_executions) == []

    after = api.run(suite, healthy_job, timeout=RUN_TIMEOUT)
    assert Lifecycle.from_proto(after.lifecycle) is Lifecycle.SUCCEEDED, after.message

    # Mended through the API, the same job runs.
    suite.catalog.UpdateExecutionPolicy(
        c.UpdateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(name=policy_name, job_timeout=Duration(seconds=60))
        )
    )
    again = api.run(suite, old, timeout=RUN_TIMEOUT)
    assert Lifecycle.from_proto(again.lifecycle) is Lifecycle.SUCCEEDED, again.message


def test_an_old_snapshot_that_breaks_task_handling_fails_its_child_and_the_next_runs(
    suite: RunningSuite, control_db_url: str, healthy_job: str
) -> None:
    # Attempt 1 fails and waits 2 s for attempt 2; meanwhile the snapshot becomes one recorded
    # before durations were bounded: retry intervals of 10^13 s, which no clock can add.
    policy_name = api.policy(suite, initial_ms=2000, maximum_ms=2000, coefficient=1.0, attempts=10)
    failing = api.job(
        suite,
        content_name=api.content(suite, "SELECT * FROM no_such_table;"),
        target_id=_sqlite_target(suite),
        policy_name=policy_name,
    )
    started = suite.executions.StartJobExecution(e.StartJobExecutionRequest(job_name=failing))
    parent = started.job_execution.job_execution_id

    def waiting_for_retry() -> bool:
        return [child.lifecycle for child in children(control_db_url, parent)] == [
            Lifecycle.WAITING_FOR_RETRY
        ]

    wait_until(waiting_for_retry, RUN_TIMEOUT, "attempt 1 failed")
    engine = create_engine(control_db_url)
    try:
        with engine.begin() as conn:
            policy = conn.execute(
                select(ExecutionSnapshotRow.policy).where(
                    ExecutionSnapshotRow.job_execution_id == parent
                )
            ).scalar_one()
            conn.execute(
                update(ExecutionSnapshotRow)
                .where(ExecutionSnapshotRow.job_execution_id == parent)
                .values(
                    policy={
                        **policy,
                        "initial_retry_interval_ms": 10**16,
                        "maximum_retry_interval_ms": 10**16,
                    }
                )
            )
    finally:
        engine.dispose()

    done = suite.wait_terminal(parent, timeout=RUN_TIMEOUT)
    assert Lifecycle.from_proto(done.lifecycle) is Lifecycle.FAILED, done.message
    (child,) = children(control_db_url, parent)
    assert child.lifecycle is Lifecycle.FAILED
    assert child.message.startswith("internal error in fleetjobs"), child.message
    last = attempts_of(control_db_url, parent)[-1]
    assert (last.attempt, last.lifecycle, last.error_class) == (2, Lifecycle.FAILED, "internal")

    after = api.run(suite, healthy_job, timeout=RUN_TIMEOUT)
    assert Lifecycle.from_proto(after.lifecycle) is Lifecycle.SUCCEEDED, after.message


def test_a_parent_whose_fold_fails_for_good_ends_failed_and_stalls_no_other(
    suite: RunningSuite, control_db_url: str, healthy_job: str
) -> None:
    # A child row no code writes (an unknown lifecycle): folding its parent raises the same
    # way on every try. The parent ends FAILED with the reason; the reconciler's rounds and the
    # next execution go on.
    now = utcnow()
    parent_id = str(uuid.uuid4())
    engine = create_engine(control_db_url)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                ParentExecutionRow(
                    job_execution_id=parent_id,
                    job_name=healthy_job,
                    lifecycle=Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS,
                    create_time=now,
                    start_time=now,
                )
            )
            session.add(snapshot_row(parent_id, healthy_job, now))
            session.add(child_row(parent_id, healthy_job, now, lifecycle=Lifecycle.SUCCEEDED))
            session.add(child_row(parent_id, healthy_job, now, lifecycle="NOT_A_LIFECYCLE"))
    finally:
        engine.dispose()

    def ended() -> bool:
        got = suite.executions.GetJobExecution(e.GetJobExecutionRequest(job_execution_id=parent_id))
        return bool(Lifecycle.from_proto(got.job_execution.lifecycle).terminal)

    wait_until(ended, timeout=RUN_TIMEOUT, what="the parent ends")
    got = suite.executions.GetJobExecution(e.GetJobExecutionRequest(job_execution_id=parent_id))
    assert Lifecycle.from_proto(got.job_execution.lifecycle) is Lifecycle.FAILED
    assert "internal error in fleetjobs while folding" in got.job_execution.message
    assert "ValueError" in got.job_execution.message
    after = api.run(suite, healthy_job, timeout=RUN_TIMEOUT)
    assert Lifecycle.from_proto(after.lifecycle) is Lifecycle.SUCCEEDED, after.message
