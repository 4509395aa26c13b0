"""The job timeout against the server's own statement timeout, on PostgreSQL, MariaDB and
SQLite.

An attempt cut short by the job's own deadline ends its child TIMED_OUT, whatever attempts
the policy has left, with a message that says so, and the parent counts its timed-out
children. A statement timeout the server itself set is an ordinary failure: retried, then
FAILED.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.duration_pb2 import Duration

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._faults import wait_until
from fleetjobs.testing._fleet import (
    Login,
    mariadb_login_with_databases,
    postgres_login_with_databases,
)
from fleetjobs.testing._servers import postgres_sleeping
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as c
from fleetjobs.v1 import execution_resources_pb2 as x
from fleetjobs.v1 import execution_service_pb2 as e

JOB_TIMEOUT_SECONDS = 2
PER_ENGINE = 2
# Each engine's way of running far longer than the job may: 30 s of sleep, and for SQLite
# (which cannot sleep) a count that never ends until the deadline interrupts it.
LONG_SCRIPTS = {
    "postgresql": "SELECT pg_sleep(30) IS NULL AS slept;",
    "mysql": "SELECT SLEEP(30) AS slept;",
    "sqlite": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n;"
    ),
}


@pytest.fixture(scope="module")
def control_db_url(sqlite_control_db: str) -> str:
    return sqlite_control_db


@pytest.fixture(scope="module")
def fleet(postgres: None, mariadb: None, login: Login) -> Iterator[dict[str, list[str]]]:
    """PER_ENGINE databases on each engine, the server ones owned by `login`."""
    sqlite = [f"timeout/{uuid.uuid4().hex[:8]}/t{i}.db" for i in range(PER_ENGINE)]
    with (
        postgres_login_with_databases(
            PER_ENGINE, username=login.username, password=login.password
        ) as pg,
        mariadb_login_with_databases(
            PER_ENGINE, username=login.username, password=login.password
        ) as my,
    ):
        yield {"postgresql": pg, "mysql": my, "sqlite": sqlite}


def _policy(suite: RunningSuite, *, attempts: int, job_timeout_seconds: int) -> str:
    name = api.name("policy")
    suite.catalog.CreateExecutionPolicy(
        c.CreateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(
                name=name,
                job_timeout=Duration(seconds=job_timeout_seconds),
                initial_retry_interval=Duration(nanos=100_000_000),
                maximum_attempts=attempts,
            )
        )
    )
    return name


def _job(
    suite: RunningSuite,
    login: Login,
    *,
    engine: str,
    databases: list[str],
    script: str,
    policy: str,
) -> str:
    credential = api.credential(
        suite, username=login.username, password=login.password, allowed=["127.0.0.1"]
    )
    server = "" if engine == "sqlite" else "127.0.0.1"
    members = [
        api.database_target(suite, engine=engine, server=server, database=d) for d in databases
    ]
    return api.job(
        suite,
        content_name=api.content(suite, script),
        target_id=api.collection(suite, members),
        credential_name=credential,
        policy_name=policy,
    )


def _attempts(suite: RunningSuite, child_id: str) -> list[x.JobTaskExecution]:
    return list(
        suite.executions.ListJobTaskExecutions(
            e.ListJobTaskExecutionsRequest(job_execution_id=child_id)
        ).job_task_executions
    )


def test_the_job_timeout_times_out_every_child_whatever_attempts_remain(
    suite: RunningSuite, login: Login, fleet: dict[str, list[str]]
) -> None:
    # Every engine under a policy with one attempt and one with three, all at once.
    started: dict[tuple[str, int], str] = {}
    for attempts in (1, 3):
        policy = _policy(suite, attempts=attempts, job_timeout_seconds=JOB_TIMEOUT_SECONDS)
        for engine, databases in fleet.items():
            job = _job(
                suite,
                login,
                engine=engine,
                databases=databases,
                script=LONG_SCRIPTS[engine],
                policy=policy,
            )
            reply = suite.executions.StartJobExecution(e.StartJobExecutionRequest(job_name=job))
            started[(engine, attempts)] = reply.job_execution.job_execution_id

    for (engine, attempts), execution_id in started.items():
        final = suite.wait_terminal(execution_id, timeout=60)
        case = f"{engine}, {attempts} attempt(s): {final.message}"
        assert Lifecycle.from_proto(final.lifecycle) is Lifecycle.TIMED_OUT, case
        assert final.message == (
            f"0 of {PER_ENGINE} databases succeeded, {PER_ENGINE} timed out"
        ), case
        assert len(final.child_executions) == PER_ENGINE
        for child in final.child_executions:
            assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.TIMED_OUT, case
            assert child.message.startswith(
                f"stopped at the job's {JOB_TIMEOUT_SECONDS} s timeout"
            ), (case, child.message)
            # Cut short by the deadline, the first attempt is the last: never retried.
            (attempt,) = _attempts(suite, child.job_execution_id)
            assert attempt.attempt == 1
            assert attempt.error_class == "job_timeout", case
            assert Lifecycle.from_proto(attempt.lifecycle) is Lifecycle.TIMED_OUT
    wait_until(
        lambda: postgres_sleeping(fleet["postgresql"]) == 0, 10, "no statement of the job remains"
    )


@pytest.mark.parametrize(
    ("engine", "script"),
    [
        ("postgresql", "SET statement_timeout = 100; SELECT pg_sleep(5);"),
        ("mysql", "SET STATEMENT max_statement_time = 0.1 FOR SELECT SLEEP(5);"),
    ],
)
def test_a_statement_timeout_set_by_the_server_stays_an_ordinary_failure(
    suite: RunningSuite, login: Login, fleet: dict[str, list[str]], engine: str, script: str
) -> None:
    policy = _policy(suite, attempts=2, job_timeout_seconds=120)
    job = _job(
        suite, login, engine=engine, databases=fleet[engine][:1], script=script, policy=policy
    )

    final = api.run(suite, job, timeout=60)

    assert Lifecycle.from_proto(final.lifecycle) is Lifecycle.FAILED, final.message
    assert final.message == "0 of 1 databases succeeded, 1 failed"
    (child,) = final.child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    attempts = _attempts(suite, child.job_execution_id)
    # Retried as any failure is, and each attempt the server's `timeout`, not the job's.
    assert sorted(a.attempt for a in attempts) == [1, 2]
    assert {a.error_class for a in attempts} == {"timeout"}
