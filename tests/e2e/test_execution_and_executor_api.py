"""ExecutionService and ExecutorService as a client sees them: idempotent starts, listings with
filters and pages, attempts, errors; connectors, connection tests, workers."""

from __future__ import annotations

import grpc
import pytest

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._fleet import Login
from fleetjobs.testing._listener import CountingListener
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import execution_service_pb2 as e
from fleetjobs.v1 import executor_service_pb2 as x


@pytest.fixture(scope="module")
def control_db_url(sqlite_control_db: str) -> str:
    return sqlite_control_db


@pytest.fixture(scope="module")
def sqlite_job(suite: RunningSuite) -> str:
    members = [
        api.database_target(suite, engine="sqlite", database=f"api/{api.name('db')}.db")
        for _ in range(3)
    ]
    return api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=api.collection(suite, members),
    )


def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code()  # type: ignore[no-any-return]


def test_start_with_the_same_request_id_returns_the_first_execution(
    suite: RunningSuite, sqlite_job: str
) -> None:
    request = e.StartJobExecutionRequest(job_name=sqlite_job, request_id=api.name("req"))
    first = suite.executions.StartJobExecution(request).job_execution
    again = suite.executions.StartJobExecution(request).job_execution
    assert again.job_execution_id == first.job_execution_id
    done = suite.wait_terminal(first.job_execution_id)
    assert Lifecycle.from_proto(done.lifecycle) is Lifecycle.SUCCEEDED
    assert dict(done.counts) == {"LIFECYCLE_SUCCEEDED": 3}


def test_listings_filter_and_page(suite: RunningSuite, sqlite_job: str) -> None:
    ids = {api.run(suite, sqlite_job).job_execution_id for _ in range(3)}

    active = suite.executions.ListJobExecutions(e.ListJobExecutionsRequest(job_name=sqlite_job))
    assert [ex.job_execution_id for ex in active.job_executions if ex.job_execution_id in ids] == []
    seen: list[str] = []
    token = ""
    while True:
        page = suite.executions.ListJobExecutions(
            e.ListJobExecutionsRequest(
                job_name=sqlite_job, include_inactive=True, page_size=2, page_token=token
            )
        )
        assert len(page.job_executions) <= 2
        seen += [ex.job_execution_id for ex in page.job_executions]
        token = page.next_page_token
        if not token:
            break
    assert ids <= set(seen)
    assert len(seen) == len(set(seen))

    parent = next(iter(ids))
    children = suite.executions.ListJobExecutions(
        e.ListJobExecutionsRequest(parent_job_execution_id=parent, include_inactive=True)
    ).job_executions
    assert len(children) == 3
    assert {c.parent_job_execution_id for c in children} == {parent}
    attempts = suite.executions.ListJobTaskExecutions(
        e.ListJobTaskExecutionsRequest(job_execution_id=parent)
    ).job_task_executions
    assert len(attempts) == 3
    one = suite.executions.GetJobTaskExecution(
        e.GetJobTaskExecutionRequest(job_task_execution_id=attempts[0].job_task_execution_id)
    ).job_task_execution
    assert one.attempt == 1
    assert Lifecycle.from_proto(one.lifecycle) is Lifecycle.SUCCEEDED
    nested = suite.executions.ListJobExecutions(
        e.ListJobExecutionsRequest(
            job_name=sqlite_job, include_inactive=True, include_children=True, page_size=1
        )
    ).job_executions
    assert len(nested[0].child_executions) == 3


def test_bad_requests_get_clear_codes(suite: RunningSuite) -> None:
    ex = suite.executions
    unknown = "00000000-0000-0000-0000-000000000000"
    assert _code(lambda: ex.StartJobExecution(e.StartJobExecutionRequest(job_name="nope"))) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert _code(lambda: ex.StartJobExecution(e.StartJobExecutionRequest())) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        _code(lambda: ex.GetJobExecution(e.GetJobExecutionRequest(job_execution_id="not-a-uuid")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        _code(lambda: ex.GetJobExecution(e.GetJobExecutionRequest(job_execution_id=unknown)))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        _code(
            lambda: ex.ListJobTaskExecutions(
                e.ListJobTaskExecutionsRequest(job_execution_id=unknown)
            )
        )
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        _code(lambda: ex.ListJobExecutions(e.ListJobExecutionsRequest(page_token="garbage!")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_connectors_workers_and_connection_tests(
    suite: RunningSuite, login: Login, mariadb_fleet: list[str]
) -> None:
    connectors = {
        c.engine: c for c in suite.executor.ListConnectors(x.ListConnectorsRequest()).connectors
    }
    assert set(connectors) == {"postgresql", "mysql", "sqlite", "odbc", "mssql"}
    assert connectors["postgresql"].available and connectors["sqlite"].available
    workers = suite.executor.ListWorkers(x.ListWorkersRequest()).workers
    assert len(workers) == 1 and workers[0].worker_id.startswith("executor-1-")

    credential = api.credential(
        suite, username=login.username, password=login.password, allowed=["127.0.0.1"]
    )
    target = api.database_target(
        suite, engine="mysql", server="127.0.0.1", database=mariadb_fleet[0]
    )
    ok = suite.executor.TestConnection(
        x.TestConnectionRequest(target_id=target, credential_name=credential)
    )
    assert ok.ok and "MariaDB" in ok.server_version

    listener = CountingListener("127.0.0.2")
    try:
        outside = api.database_target(
            suite, engine="mysql", server="127.0.0.2", port=listener.port, database="x"
        )
        refused = suite.executor.TestConnection(
            x.TestConnectionRequest(target_id=outside, credential_name=credential)
        )
        assert not refused.ok and "may not be sent" in refused.message
        assert listener.accepted == 0
    finally:
        listener.close()
    assert login.password not in refused.message
