"""Executors that die, crash after a commit, or freeze past the ack wait, with a second
executor running beside them; a killed service brought back by `make up`. Real processes
(the launcher's), real PostgreSQL targets; invariants asserted, never timings."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator

import grpc
import psycopg
import pymysql
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import select

from fleetjobs.core.db import make_sync_engine
from fleetjobs.core.db.models import AttemptRow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._faults import (
    FAST_DELIVERY,
    postgres_job,
    sqlite_destination,
    start,
    wait_until,
)
from fleetjobs.testing._fleet import mariadb_login_with_databases, new_login
from fleetjobs.testing._invariants import (
    attempts_of,
    check_execution,
    children,
    process_of,
)
from fleetjobs.testing._launched import LauncherSuite, launched_suite, process_alive
from fleetjobs.testing._servers import postgres_databases, postgres_url
from fleetjobs.v1 import catalog_service_pb2 as c

# pg_sleep inside DO: the sleep returns no result set, so the SELECT after it is the first.
SLEEP_THEN_SELECT = (
    "DO $$ BEGIN PERFORM pg_sleep({seconds}); END $$;\nSELECT current_database() AS db, 1 AS one;"
)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LauncherSuite]:
    env = {
        **FAST_DELIVERY,
        "FLEETJOBS_EXECUTORS": "2",
        # Small enough that neither executor takes the whole fleet in one fetch.
        "FLEETJOBS_EXECUTOR_CONCURRENCY": "8",
    }
    with launched_suite(tmp_path_factory.mktemp("executor-faults"), env=env) as suite:
        yield suite


@pytest.fixture(scope="module")
def fleet(postgres: None) -> Iterator[list[str]]:
    with postgres_databases(20, prefix="fjt_fault") as names:
        yield names


def _running_on(suite: LauncherSuite, parents: list[str], process: str | None = None) -> list[str]:
    """The children of `parents` with an attempt running (on `process`, if given)."""
    return [
        attempt.job_execution_id
        for parent in parents
        for attempt in attempts_of(suite.control_db_url, parent)
        if attempt.lifecycle == "IN_PROGRESS"
        and (process is None or process_of(attempt.worker_id) == process)
    ]


def test_executor_killed_mid_script_while_another_runs(
    healed: LauncherSuite, fleet: list[str]
) -> None:
    suite = healed
    job_destination, destination = sqlite_destination(suite)
    job = postgres_job(
        suite, fleet, SLEEP_THEN_SELECT.format(seconds=2), destination=job_destination
    )
    parent = start(suite, job)
    wait_until(lambda: _running_on(suite, [parent], "executor-1"), 30, "executor-1 runs attempts")

    suite.kill("executor-1", signal.SIGKILL)
    execution = suite.wait_terminal(parent, timeout=90)

    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, execution
    assert (
        check_execution(
            suite.control_db_url,
            parent,
            destination=destination,
            rows_per_database=1,
            postgres_targets=fleet,
        )
        == []
    )
    attempts = attempts_of(suite.control_db_url, parent)
    lost = [a for a in attempts if a.error_class == "worker_lost"]
    assert lost, "the kill hit no running attempt"
    assert {process_of(a.worker_id) for a in lost} == {"executor-1"}
    # executor-1 stayed dead: executor-2 finished every attempt it left behind.
    retaken = {a.job_execution_id for a in lost}
    assert {
        process_of(a.worker_id)
        for a in attempts
        if a.job_execution_id in retaken and a.lifecycle == "SUCCEEDED"
    } == {"executor-2"}


def _counter(database: str, table: str) -> int:
    with psycopg.connect(postgres_url(database), autocommit=True) as conn:
        row = conn.execute(
            f"SELECT n FROM {table} WHERE id = 1" if _exists(conn, table) else "SELECT 0"
        ).fetchone()
    return int(row[0]) if row else 0


def _exists(conn: psycopg.Connection[tuple[object, ...]], table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone() == (True,)


def test_crash_after_the_commit_runs_the_script_again_with_one_result_set(
    healed: LauncherSuite, fleet: list[str]
) -> None:
    """The script commits its counter bump (explicit BEGIN/COMMIT: a PostgreSQL script is
    otherwise one transaction, ADR 0003), then sleeps; the executors holding the attempts
    are killed during the sleep and `make up` brings them back. The redelivered task runs
    the script again: the counter shows two runs, the idempotent part the state of one, and
    there is one result set, from the second run."""
    suite = healed
    databases = fleet[:3]
    runs, state = f"runs_{uuid.uuid4().hex[:8]}", f"state_{uuid.uuid4().hex[:8]}"
    script = f"""BEGIN;
CREATE TABLE IF NOT EXISTS {runs} (id INT PRIMARY KEY, n INT NOT NULL);
CREATE TABLE IF NOT EXISTS {state} (id INT PRIMARY KEY, note TEXT NOT NULL);
INSERT INTO {runs} VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = {runs}.n + 1;
INSERT INTO {state} VALUES (1, 'configured') ON CONFLICT (id) DO NOTHING;
COMMIT;
DO $$ BEGIN PERFORM pg_sleep(4); END $$;
SELECT current_database() AS db, (SELECT n FROM {runs} WHERE id = 1) AS runs,
       (SELECT count(*) FROM {state}) AS state_rows;"""
    job_destination, destination = sqlite_destination(suite)
    parent = start(suite, postgres_job(suite, databases, script, destination=job_destination))
    wait_until(
        lambda: all(_counter(database, runs) == 1 for database in databases),
        30,
        "every database committed its first bump",
    )
    holders = {
        process_of(attempt.worker_id)
        for attempt in attempts_of(suite.control_db_url, parent)
        if attempt.lifecycle == "IN_PROGRESS"
    }
    assert holders, "no attempt was running when the bumps were committed"

    for process in sorted(holders):
        suite.kill(process, signal.SIGKILL)
    suite.up()
    execution = suite.wait_terminal(parent, timeout=90)

    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, execution
    assert (
        check_execution(
            suite.control_db_url,
            parent,
            destination=destination,
            rows_per_database=1,
            postgres_targets=databases,
        )
        == []
    )
    attempts = attempts_of(suite.control_db_url, parent)
    for database in databases:
        numbers = [a.attempt for a in attempts if a.database_name == database]
        assert numbers == [1, 2], (database, attempts)
        assert _counter(database, runs) == 2
        with psycopg.connect(postgres_url(database)) as conn:
            assert conn.execute(f"SELECT id, note FROM {state}").fetchall() == [(1, "configured")]
    with sqlite3.connect(suite.sqlite_root / "results.db") as conn:
        rows = conn.execute(
            f"SELECT target_database_name, runs, state_rows FROM {destination.table} "
            "WHERE job_execution_id = ? ORDER BY target_database_name",
            (parent,),
        ).fetchall()
    assert rows == [(database, 2, 1) for database in sorted(databases)]


def _records(suite: LauncherSuite, name: str, event: str) -> list[dict[str, object]]:
    return [record for record in suite.log_records(name) if record.get("event") == event]


def test_stalled_executor_late_writes_are_rejected(healed: LauncherSuite, fleet: list[str]) -> None:
    """executor-1 is frozen (SIGSTOP) while its attempts run, past the ack wait: executor-2
    takes them over and finishes them. Thawed (SIGCONT), executor-1 finishes its scripts
    and tries to write: a result batch (job with a destination), rejected by the results
    service (or, when it cannot be published, the failure recorded instead, rejected by the
    executor's fence), and a success (job without one), rejected by the executor's fence.
    Nothing changes: no second result set, no terminal child touched.

    An attempt whose script ended before the freeze (its result handed over, its outcome
    not yet recorded) is not stalled: its child ends at attempt 1, and executor-1 has
    nothing late to write for it. The scripts sleep long enough that this is rare, and
    each job must still have children taken over."""
    suite = healed
    script = SLEEP_THEN_SELECT.format(seconds=6)
    job_destination, destination = sqlite_destination(suite)
    with_rows = postgres_job(suite, fleet[3:5], script, destination=job_destination)
    without_rows = postgres_job(suite, fleet[5:7], script)

    # All the work to executor-1: executor-2 frozen until its pending pulls expire.
    suite.kill("executor-2", signal.SIGSTOP)
    time.sleep(1.5)
    parents = [start(suite, with_rows), start(suite, without_rows)]
    wait_until(
        lambda: len(_running_on(suite, parents, "executor-1")) == 4,
        30,
        "executor-1 runs all four attempts",
    )
    stalled = set(_running_on(suite, parents, "executor-1"))
    suite.kill("executor-1", signal.SIGSTOP)
    os.kill(suite.pid("executor-2"), signal.SIGCONT)

    ended = [suite.wait_terminal(parent, timeout=60) for parent in parents]
    assert [Lifecycle.from_proto(e.lifecycle) for e in ended] == [Lifecycle.SUCCEEDED] * 2
    before = {parent: children(suite.control_db_url, parent) for parent in parents}
    assert {child.current_attempt for kids in before.values() for child in kids} <= {1, 2}
    taken_over = {
        parent: {child.job_execution_id for child in kids if child.current_attempt == 2}
        for parent, kids in before.items()
    }
    assert all(taken_over.values()), f"no child of a job was taken over: {taken_over}"

    os.kill(suite.pid("executor-1"), signal.SIGCONT)
    stalled_rows = stalled & taken_over[parents[0]]
    stalled_ends = stalled & taken_over[parents[1]]
    # A thawed executor may find its NATS connection gone: its batch then fails to publish,
    # and its own fence rejects the failure it records instead. Either way it is rejected.
    wait_until(
        lambda: (
            {
                r["job_execution_id"]
                for r in _records(suite, "results-1", "batch of a superseded attempt rejected")
                + _records(suite, "executor-1", "late write from a superseded attempt rejected")
            }
            >= stalled_rows
        ),
        30,
        "the stalled executor's result batches were rejected",
    )
    wait_until(
        lambda: (
            {
                r["job_execution_id"]
                for r in _records(
                    suite, "executor-1", "late write from a superseded attempt rejected"
                )
            }
            >= stalled_ends
        ),
        30,
        "executor-1's fence rejected its late successes",
    )

    assert {parent: children(suite.control_db_url, parent) for parent in parents} == before
    assert (
        check_execution(
            suite.control_db_url,
            parents[0],
            destination=destination,
            rows_per_database=1,
            postgres_targets=fleet[3:5],
        )
        == []
    )
    assert check_execution(suite.control_db_url, parents[1], postgres_targets=fleet[5:7]) == []


def test_up_restarts_a_killed_service_on_its_port(healed: LauncherSuite) -> None:
    suite = healed
    before = suite.pids()
    suite.kill("catalog-1", signal.SIGKILL)

    output = suite.up()

    after = suite.pids()
    assert after["catalog-1"] != before["catalog-1"] and process_alive(after["catalog-1"])
    assert {k: v for k, v in after.items() if k != "catalog-1"} == {
        k: v for k, v in before.items() if k != "catalog-1"
    }
    assert any(
        line.split()[:3] == ["catalog-1", suite.address("catalog-1"), "started"]
        for line in output.splitlines()
    ), output
    with grpc.insecure_channel(suite.address("catalog-1")) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    # The clients the test already held work again, on the same address.
    suite.catalog.ListJobs(c.ListJobsRequest(), timeout=10)


def _mariadb_sessions_waiting(database: str) -> list[int]:
    """Sessions on `database` waiting in the test script's row lock."""
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE %s",
                (database, "%FOR UPDATE%"),
            )
            return sorted(int(row[0]) for row in cursor.fetchall())
    finally:
        admin.close()


def _session_recorded(suite: LauncherSuite, parent: str) -> bool:
    engine = make_sync_engine(suite.control_db_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                select(AttemptRow.session_id).where(
                    AttemptRow.parent_job_execution_id == parent,
                    AttemptRow.session_id.is_not(None),
                )
            ).first()
    finally:
        engine.dispose()
    return found is not None


def test_a_lost_executors_statement_is_ended_before_its_attempt_runs_again(
    healed: LauncherSuite, mariadb: None
) -> None:
    """MariaDB runs on a statement whose client died (here a row-lock wait). The executor
    that takes the attempt over ends that session first, so the script never runs twice at
    once on the database."""
    suite = healed
    login = new_login()
    with mariadb_login_with_databases(1, username=login.username, password=login.password) as (
        database,
    ):
        holder = pymysql.connect(
            host="127.0.0.1",
            port=3306,
            user=login.username,
            password=login.password,
            database=database,
            autocommit=False,
        )
        try:
            with holder.cursor() as cursor:
                cursor.execute("CREATE TABLE held (id INT PRIMARY KEY) ENGINE=InnoDB")
                cursor.execute("INSERT INTO held VALUES (1)")
                holder.commit()
                cursor.execute("SELECT id FROM held WHERE id = 1 FOR UPDATE")
            credential = api.credential(
                suite, username=login.username, password=login.password, allowed=["127.0.0.1"]
            )
            job = api.job(
                suite,
                content_name=api.content(
                    suite,
                    "SET SESSION innodb_lock_wait_timeout = 600;\n"
                    "SELECT id FROM held WHERE id = 1 FOR UPDATE;",
                ),
                target_id=api.database_target(
                    suite, engine="mysql", server="127.0.0.1", database=database
                ),
                credential_name=credential,
            )
            parent = start(suite, job)
            wait_until(lambda: _mariadb_sessions_waiting(database), 30, "the script waits")
            wait_until(lambda: _session_recorded(suite, parent), 30, "its session is recorded")
            (orphan,) = _mariadb_sessions_waiting(database)
            (running,) = _running_on(suite, [parent])
            holding = [
                a for a in attempts_of(suite.control_db_url, parent) if a.lifecycle == "IN_PROGRESS"
            ]
            suite.kill(process_of(holding[0].worker_id), signal.SIGKILL)

            # The other executor takes the attempt over: the dead one's session is gone, and
            # only the new attempt waits for the lock.
            wait_until(
                lambda: (waiting := _mariadb_sessions_waiting(database)) and orphan not in waiting,
                60,
                "the attempt is taken over and the lost session ended",
            )
            assert len(_mariadb_sessions_waiting(database)) == 1
            holder.commit()  # releases the row lock
            execution = suite.wait_terminal(parent, timeout=60)
        finally:
            holder.close()
    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, execution
    assert check_execution(suite.control_db_url, parent) == []
    attempts = attempts_of(suite.control_db_url, parent)
    assert [(a.attempt, a.error_class) for a in attempts] == [(1, "worker_lost"), (2, "")]
    assert running == attempts[0].job_execution_id
