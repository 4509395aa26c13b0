"""Helpers of the fault tests (tests/faults): jobs on real fleets defined through the API of
a launched suite, waiting for a condition, the shortened delivery settings."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable

from fleetjobs.testing import _api as api
from fleetjobs.testing._invariants import Destination, attempts_of, children
from fleetjobs.testing._launched import LauncherSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import execution_service_pb2 as e

# Defaults: 30 s ack wait (keep-alive every 10 s), 5 s heartbeat, 20 s stale, 30 s reconcile.
FAST_DELIVERY = {
    "FLEETJOBS_TASK_ACK_WAIT": "6",
    "FLEETJOBS_HEARTBEAT_INTERVAL": "1",
    "FLEETJOBS_WORKER_STALE_AFTER": "4",
    "FLEETJOBS_RECONCILE_INTERVAL": "2",
}


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.05)


def sqlite_destination(suite: LauncherSuite) -> tuple[r.ResultDestination, Destination]:
    """A destination table in a SQLite file under the suite's root: what the job names, and
    how the invariant checker reads it."""
    table = f"t_{uuid.uuid4().hex[:8]}"
    return (
        r.ResultDestination(engine="sqlite", database_name="results.db", table_name=table),
        Destination(url=f"sqlite:///{suite.sqlite_root / 'results.db'}", table=table),
    )


def postgres_job(
    suite: LauncherSuite,
    databases: list[str],
    script: str,
    *,
    destination: r.ResultDestination | None = None,
    policy: str = "",
    username: str = "postgres",
) -> str:
    """A job running `script` on those databases of the test PostgreSQL server."""
    credential = api.credential(suite, username=username, password="x", allowed=["127.0.0.1"])
    members = [
        api.database_target(suite, engine="postgresql", server="127.0.0.1", database=name)
        for name in databases
    ]
    return api.job(
        suite,
        content_name=api.content(suite, script),
        target_id=api.collection(suite, members),
        credential_name=credential,
        policy_name=policy,
        destination=destination,
    )


def sqlite_job(
    suite: LauncherSuite, count: int, script: str, *, destination: r.ResultDestination | None
) -> str:
    """A job running `script` on `count` new SQLite files under the suite's root."""
    folder = f"fleet_{uuid.uuid4().hex[:8]}"
    (suite.sqlite_root / folder).mkdir(parents=True)
    members = [
        api.database_target(suite, engine="sqlite", database=f"{folder}/db{index:03d}.db")
        for index in range(count)
    ]
    return api.job(
        suite,
        content_name=api.content(suite, script),
        target_id=api.collection(suite, members),
        destination=destination,
    )


def start(suite: LauncherSuite, job_name: str) -> str:
    started = suite.executions.StartJobExecution(e.StartJobExecutionRequest(job_name=job_name))
    return str(started.job_execution.job_execution_id)


def runs_per_attempt(suite: LauncherSuite, parent_id: str, table: str = "visits") -> list[str]:
    """For a job on SQLite targets whose script counts its runs in `table` (id 1, n): every
    database where the count differs from the number of attempts recorded for it (a run
    nobody recorded, or an attempt that never ran). Empty when they all agree."""
    counts = Counter(a.job_execution_id for a in attempts_of(suite.control_db_url, parent_id))
    differing = []
    for child in children(suite.control_db_url, parent_id):
        with sqlite3.connect(suite.sqlite_root / child.database_name) as conn:
            row = conn.execute(f"SELECT n FROM {table} WHERE id = 1").fetchone()
        runs = int(row[0]) if row else 0
        if runs != counts[child.job_execution_id]:
            differing.append(
                f"{child.database_name}: ran {runs} times, "
                f"{counts[child.job_execution_id]} attempts"
            )
    return differing


def lifecycles(suite: LauncherSuite, parent_id: str) -> dict[str, int]:
    """How many children of the execution are in each lifecycle (a short failure message
    for a fleet of hundreds)."""
    return dict(
        Counter(child.lifecycle.value for child in children(suite.control_db_url, parent_id))
    )


# A SQLite script that counts its own runs in the target (so a repeat would show) and returns
# one row after a little work.
COUNTING_SQLITE_SCRIPT = """\
CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO visits VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
SELECT count(*) AS counted, (SELECT n FROM visits) AS visits FROM c;
"""
