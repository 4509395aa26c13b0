"""What must hold after any fault, read straight from the control database, the destination
table and the targets: a fault test asserts `check_execution(...) == []`, and a failure
prints every broken invariant at once.

- the execution and every child are terminal;
- each child's attempts are numbered 1..n without a gap or a repeat, `current_attempt` is n,
  no attempt is left IN_PROGRESS, and a SUCCEEDED child ended with a SUCCEEDED attempt;
- exactly one result-set record per SUCCEEDED child (from its succeeded attempt) when the
  job has a destination, none for the other children;
- in the destination table, exactly one row set per SUCCEEDED database for the execution
  (as many rows as its record says, or `rows_per_database`) and none for the others;
- no statement left running on any PostgreSQL target (`pg_stat_activity`, application name
  `fleetjobs`).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine, MetaData, Table, func, select, text

from fleetjobs.core.db import make_sync_engine
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing._servers import POSTGRES_ADMIN_URL

APPLICATION_NAME = "fleetjobs"


@dataclass(frozen=True)
class Destination:
    """A destination table as the test reads it: a SQLAlchemy URL, the table (and schema)."""

    url: str
    table: str
    schema: str | None = None


@dataclass(frozen=True)
class Child:
    job_execution_id: str
    engine: str
    server_name: str
    database_name: str
    lifecycle: Lifecycle
    current_attempt: int
    message: str


def _terminal(value: str) -> bool:
    try:
        return Lifecycle(value).terminal
    except ValueError:
        return False


def _query(control: Engine, sql: str, parent_id: str) -> list[tuple[Any, ...]]:
    with control.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), {"parent": parent_id})]


def children_of(control: Engine, parent_id: str) -> list[Child]:
    rows = _query(
        control,
        "SELECT job_execution_id, engine, server_name, database_name, lifecycle, "
        "current_attempt, message FROM child_executions "
        "WHERE parent_job_execution_id = :parent ORDER BY database_name",
        parent_id,
    )
    return [
        Child(
            job_execution_id=row[0],
            engine=row[1],
            server_name=row[2] or "",
            database_name=row[3],
            lifecycle=Lifecycle(row[4]),
            current_attempt=int(row[5]),
            message=row[6] or "",
        )
        for row in rows
    ]


def check_execution(
    control_db_url: str,
    parent_id: str,
    *,
    destination: Destination | None = None,
    rows_per_database: int | None = None,
    postgres_targets: Sequence[str] = (),
    settle_seconds: float = 10.0,
) -> list[str]:
    """Every invariant of execution `parent_id` that does not hold, as readable lines.

    `destination` is the job's result destination (None: the job has none, so no result set
    may exist). `postgres_targets` are target database names on the test PostgreSQL server to
    look for leftover statements; statements are given `settle_seconds` to end (an executor
    killed mid-statement cannot cancel it, and the server notices only when it ends)."""
    control = make_sync_engine(control_db_url)
    try:
        violations = _check_control(control, parent_id, destination is not None)
        children = children_of(control, parent_id)
        if destination is not None:
            records = {
                str(row[0]): int(row[1])
                for row in _query(
                    control,
                    "SELECT job_execution_id, rows_written FROM result_sets "
                    "WHERE parent_job_execution_id = :parent",
                    parent_id,
                )
            }
            violations += _check_destination(
                destination, parent_id, children, records, rows_per_database
            )
    finally:
        control.dispose()
    violations += _check_targets(postgres_targets, settle_seconds)
    return violations


def _check_control(control: Engine, parent_id: str, expect_result_sets: bool) -> list[str]:
    violations: list[str] = []
    parent = _query(
        control, "SELECT lifecycle FROM job_executions WHERE job_execution_id = :parent", parent_id
    )
    if not parent:
        return [f"execution {parent_id} does not exist"]
    if not _terminal(str(parent[0][0])):
        violations.append(f"execution {parent_id} is still {parent[0][0]}")
    children = children_of(control, parent_id)
    if not children:
        violations.append(f"execution {parent_id} has no children")
    attempts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for child_id, number, lifecycle in _query(
        control,
        "SELECT job_execution_id, attempt, lifecycle FROM job_task_executions "
        "WHERE parent_job_execution_id = :parent ORDER BY attempt",
        parent_id,
    ):
        attempts[str(child_id)].append((int(number), str(lifecycle)))
    records: dict[str, list[int]] = defaultdict(list)
    for child_id, attempt in _query(
        control,
        "SELECT job_execution_id, attempt FROM result_sets WHERE parent_job_execution_id = :parent",
        parent_id,
    ):
        records[str(child_id)].append(int(attempt))

    for child in children:
        name = f"child {child.database_name} ({child.job_execution_id})"
        if not child.lifecycle.terminal:
            violations.append(f"{name} is still {child.lifecycle.value}")
        numbers = [number for number, _ in attempts.get(child.job_execution_id, [])]
        if numbers != list(range(1, len(numbers) + 1)):
            violations.append(f"{name} has attempts numbered {numbers}")
        if child.current_attempt != len(numbers):
            violations.append(
                f"{name} has current_attempt {child.current_attempt} but {len(numbers)} attempts"
            )
        running = [
            number
            for number, lifecycle in attempts.get(child.job_execution_id, [])
            if not _terminal(lifecycle)
        ]
        if child.lifecycle.terminal and running:
            violations.append(f"{name} is {child.lifecycle.value} with attempts {running} running")
        succeeded = child.lifecycle is Lifecycle.SUCCEEDED
        last = attempts.get(child.job_execution_id, [])[-1:]
        if succeeded and (not last or last[0][1] != Lifecycle.SUCCEEDED.value):
            violations.append(f"{name} SUCCEEDED but its last attempt is {last}")
        own = records.get(child.job_execution_id, [])
        if succeeded and expect_result_sets:
            if own != [child.current_attempt]:
                violations.append(
                    f"{name} SUCCEEDED at attempt {child.current_attempt} with result sets "
                    f"from attempts {own} (want exactly one, from that attempt)"
                )
        elif own:
            violations.append(f"{name} is {child.lifecycle.value} but has result sets {own}")
    return violations


def _check_destination(
    destination: Destination,
    parent_id: str,
    children: list[Child],
    records: dict[str, int],
    rows_per_database: int | None,
) -> list[str]:
    engine = make_sync_engine(destination.url)
    try:
        table = Table(
            destination.table, MetaData(), schema=destination.schema, autoload_with=engine
        )
        key = (table.c.target_engine, table.c.target_server_name, table.c.target_database_name)
        with engine.connect() as conn:
            counts = Counter(
                {
                    (str(e), str(s or ""), str(d)): int(n)
                    for e, s, d, n in conn.execute(
                        select(*key, func.count())
                        .where(table.c.job_execution_id == parent_id)
                        .group_by(*key)
                    )
                }
            )
    except Exception as error:  # no table at all is fine when nothing succeeded
        if any(child.lifecycle is Lifecycle.SUCCEEDED for child in children):
            return [f"destination table {destination.table} cannot be read: {error!r}"]
        return []
    finally:
        engine.dispose()
    violations: list[str] = []
    known = set()
    for child in children:
        address = (child.engine, child.server_name, child.database_name)
        known.add(address)
        have = counts.get(address, 0)
        if child.lifecycle is Lifecycle.SUCCEEDED:
            want = (
                rows_per_database
                if rows_per_database is not None
                else records.get(child.job_execution_id)
            )
            if have != want:
                violations.append(
                    f"destination has {have} rows for {child.database_name}, want {want}"
                )
        elif have:
            violations.append(
                f"destination has {have} rows for {child.database_name}, which is "
                f"{child.lifecycle.value}"
            )
    strangers = sorted(address for address in counts if address not in known)
    if strangers:
        violations.append(f"destination has rows of databases that are no children: {strangers}")
    return violations


def statements_running(databases: Sequence[str]) -> list[tuple[str, str]]:
    """(database, query) of every fleetjobs statement running on those target databases."""
    if not databases:
        return []
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname, query FROM pg_stat_activity WHERE datname = ANY(%s) "
            "AND application_name = %s AND state <> 'idle' AND pid <> pg_backend_pid()",
            (list(databases), APPLICATION_NAME),
        ).fetchall()
    return [(str(datname), str(query)) for datname, query in rows]


def _check_targets(databases: Sequence[str], settle_seconds: float) -> list[str]:
    deadline = time.monotonic() + settle_seconds
    while True:
        running = statements_running(databases)
        if not running or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return [
        f"statement still running on {database}: {query[:120]!r}" for database, query in running
    ]


@dataclass(frozen=True)
class Attempt:
    job_execution_id: str
    database_name: str
    attempt: int
    lifecycle: str
    worker_id: str
    error_class: str
    message: str


def attempts_of(control_db_url: str, parent_id: str) -> list[Attempt]:
    """Every attempt of the execution's children, by database then number."""
    control = make_sync_engine(control_db_url)
    try:
        rows = _query(
            control,
            "SELECT job_execution_id, database_name, attempt, lifecycle, worker_id, "
            "error_class, message FROM job_task_executions "
            "WHERE parent_job_execution_id = :parent ORDER BY database_name, attempt",
            parent_id,
        )
    finally:
        control.dispose()
    return [
        Attempt(
            job_execution_id=row[0],
            database_name=row[1],
            attempt=int(row[2]),
            lifecycle=row[3],
            worker_id=row[4] or "",
            error_class=row[5] or "",
            message=row[6] or "",
        )
        for row in rows
    ]


def children(control_db_url: str, parent_id: str) -> list[Child]:
    control = make_sync_engine(control_db_url)
    try:
        return children_of(control, parent_id)
    finally:
        control.dispose()


def process_of(worker_id: str) -> str:
    """The launcher's name of the process a worker id belongs to: `executor-2-1a2b3c4d` →
    `executor-2`."""
    service, replica, _ = worker_id.split("-", 2)
    return f"{service}-{replica}"
