"""fleetjobs against a direct baseline: one script on 200 PostgreSQL databases, first result set
of each collected into one destination table (`make bench`).

Method
------
Set-up (not timed): 200 databases `fjbench_<run-id>_<n>` and a destination database
`fjbench_<run-id>_dest` are created on the local PostgreSQL over one autocommit connection.
The real suite is started as processes by the local launcher in a temporary state directory
on free ports, with `FLEETJOBS_MAX_PER_SERVER=16`; a credential, 200 database targets, a
custom collection, the content and one job are defined through the public gRPC API.

The same work is then done two ways, timed with a monotonic clock:

- direct: a pool of 16 threads; per database, connect with psycopg, send the script as one
  simple-protocol query (as the fleetjobs connector does), fetch the first result set, and
  COPY its rows plus the metadata columns (job_execution_id, target_engine,
  target_server_name, target_database_name, collected_at) into one destination table over
  that thread's destination connection, committing once per database (fleetjobs, too,
  commits each database's rows on their own).
- fleetjobs: from `StartJobExecution` until `WatchJobExecution` reports the execution
  terminal, i.e. every child's rows are committed in the destination.

After one warm-up run of each, the timed runs alternate (direct, fleetjobs, direct, ...), so
a drift in the machine's state hits both paths alike. The bench prints both medians and the
ratio fleetjobs/direct, plus a breakdown of each:

- direct: per-database timings taken in the worker threads;
- fleetjobs: the executions' own timestamps (children's create/start/end, the parent's end),
  the executor's `collected_at` stamp in the destination table (when a child's script was
  done), and the CPU seconds each suite process used during the run (/proc), which tells
  waiting apart from work on a small machine.

Nothing asserts a time (conventions: speed is reported, not tested); correctness is checked
once at the end (every run wrote exactly one row set per database, every execution and child
SUCCEEDED, the results service lists one result set per database) and a failure exits
non-zero. Everything created is dropped in a `finally`, and the suite is stopped.

Options: `--databases N` and `--runs N` (defaults 200 and 3) for a quick try,
`--keep-state` to keep the suite's state directory (logs/) for inspection.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import psycopg
from psycopg import conninfo

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._servers import POSTGRES_ADMIN_URL, free_port
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import (
    catalog_service_pb2_grpc,
    execution_service_pb2_grpc,
    results_service_pb2_grpc,
)
from fleetjobs.v1 import execution_service_pb2 as ex
from fleetjobs.v1 import results_service_pb2 as rs

REPO = Path(__file__).resolve().parents[2]
CAP = 16
# Idempotent: every run leaves each database in the same state and returns one row.
SCRIPT = """\
CREATE TABLE IF NOT EXISTS bench_t (id int primary key, v text);
INSERT INTO bench_t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = excluded.v;
SELECT id, v, current_database() AS db FROM bench_t;
"""
DIRECT_TABLE = "direct_results"
FLEETJOBS_TABLE = "fleetjobs_results"
METADATA = (
    "job_execution_id",
    "target_engine",
    "target_server_name",
    "target_database_name",
    "collected_at",
)
RUN_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Step:
    """One line of a breakdown: `unit` "s" (seconds of wall time), "cpu" (CPU seconds) or ""
    (a plain number)."""

    label: str
    value: float
    unit: str = "s"


@dataclass
class Run:
    path: str
    seconds: float
    execution_id: str
    steps: list[Step] = field(default_factory=list)


# --- databases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    run_id: str
    databases: list[str]
    destination: str
    host: str
    port: int
    user: str

    def conninfo(self, database: str) -> str:
        return conninfo.make_conninfo(POSTGRES_ADMIN_URL, dbname=database)


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)


@contextmanager
def fleet_of(count: int) -> Iterator[Fleet]:
    """Creates the databases and the destination; drops whatever got created, whatever
    happens."""
    run_id = uuid.uuid4().hex[:8]
    params = conninfo.conninfo_to_dict(POSTGRES_ADMIN_URL)
    fleet = Fleet(
        run_id=run_id,
        databases=[f"fjbench_{run_id}_{n}" for n in range(count)],
        destination=f"fjbench_{run_id}_dest",
        host=str(params.get("host") or "127.0.0.1"),
        port=int(params.get("port") or 5432),
        user=str(params.get("user") or "postgres"),
    )
    created: list[str] = []
    try:
        with _admin() as conn:
            for name in [*fleet.databases, fleet.destination]:
                conn.execute(f'CREATE DATABASE "{name}"')
                created.append(name)
        with psycopg.connect(fleet.conninfo(fleet.destination), autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE {DIRECT_TABLE} (id integer, v text, db text, "
                "job_execution_id text, target_engine text, target_server_name text, "
                "target_database_name text, collected_at timestamptz)"
            )
        yield fleet
    finally:
        with _admin() as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- direct ------------------------------------------------------------------------------


def _first_result_set(cursor: psycopg.Cursor[Any]) -> list[tuple[Any, ...]]:
    """The rows of the script's first statement that returns rows (the connector's rule)."""
    first: list[tuple[Any, ...]] | None = None
    while True:
        if first is None and cursor.description is not None:
            first = cursor.fetchall()
        if not cursor.nextset():
            return first or []


class _Destinations:
    """One destination connection per worker thread, opened on first use (inside the timed
    region, as a real client would) and closed after the run."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet
        self._local = threading.local()
        self._opened: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def get(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = psycopg.connect(self._fleet.conninfo(self._fleet.destination))
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._opened:
            conn.close()


def _direct_one(
    fleet: Fleet, database: str, execution_id: str, destinations: _Destinations
) -> tuple[float, float]:
    started = time.perf_counter()
    with (
        psycopg.connect(fleet.conninfo(database), autocommit=True) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(SCRIPT)
        rows = _first_result_set(cursor)
    collected_at = datetime.now(UTC)
    dest = destinations.get()
    columns = ", ".join(("id", "v", "db", *METADATA))
    with dest.cursor() as cursor, cursor.copy(f"COPY {DIRECT_TABLE} ({columns}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row((*row, execution_id, "postgresql", fleet.host, database, collected_at))
    dest.commit()
    return started, time.perf_counter()


def run_direct(fleet: Fleet) -> Run:
    execution_id = str(uuid.uuid4())
    destinations = _Destinations(fleet)
    cpu0 = time.process_time()
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CAP) as pool:
            spans = list(
                pool.map(
                    lambda db: _direct_one(fleet, db, execution_id, destinations), fleet.databases
                )
            )
        seconds = time.perf_counter() - t0
    finally:
        destinations.close()
    durations = [end - start for start, end in spans]
    steps = [
        Step("first database started", min(start for start, _ in spans) - t0),
        Step("last database started", max(start for start, _ in spans) - t0),
        Step("per database (connect, script, COPY, commit), median", statistics.median(durations)),
        Step("slowest database", max(durations)),
        Step("effective concurrency (busy time / wall)", sum(durations) / seconds, ""),
        Step("CPU of the bench process", time.process_time() - cpu0, "cpu"),
    ]
    return Run("direct", seconds, execution_id, steps)


# --- fleetjobs ---------------------------------------------------------------------------


@dataclass
class Stubs:
    catalog: Any
    executions: Any
    results: Any


def _suite_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETJOBS_")}
    env.update(
        FLEETJOBS_STATE_DIR=str(state_dir),
        FLEETJOBS_MAX_PER_SERVER=str(CAP),
        # Executor replicas (competing consumers); the default run uses one.
        FLEETJOBS_EXECUTORS=os.environ.get("FLEETJOBS_EXECUTORS", "1"),
        **{
            f"FLEETJOBS_{name}_ADDR": f"127.0.0.1:{free_port()}"
            for name in ("CATALOG", "SCHEDULER", "EXECUTOR", "RESULTS")
        },
    )
    return env


def _launcher(env: dict[str, str], command: str) -> str:
    """Runs `python -m fleetjobs.launcher <command>`; returns its complaint, empty if none."""
    done = subprocess.run(
        [sys.executable, "-m", "fleetjobs.launcher", command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return "" if done.returncode == 0 else f"launcher {command} failed:\n{done.stdout}{done.stderr}"


@contextmanager
def running_suite(state_dir: Path) -> Iterator[Stubs]:
    env = _suite_env(state_dir)
    channels: list[grpc.Channel] = []
    try:
        failed = _launcher(env, "up")
        if failed:
            raise SystemExit(failed)
        channels = [
            grpc.insecure_channel(env[f"FLEETJOBS_{name}_ADDR"])
            for name in ("CATALOG", "SCHEDULER", "RESULTS")
        ]
        yield Stubs(
            catalog=catalog_service_pb2_grpc.CatalogServiceStub(channels[0]),
            executions=execution_service_pb2_grpc.ExecutionServiceStub(channels[1]),
            results=results_service_pb2_grpc.ResultsServiceStub(channels[2]),
        )
    finally:
        for channel in channels:
            channel.close()
        # Reported, not raised: an error here must not hide the one that ended the bench.
        failed = _launcher(env, "stop")
        if failed:
            print(failed, file=sys.stderr)


def define_job(stubs: Stubs, fleet: Fleet) -> str:
    credential = api.credential(
        stubs,
        username=fleet.user,
        password="unused-trust-auth",
        # With its port: a bare host allows the default port only (docs/credentials.md).
        allowed=[
            f"[{fleet.host}]:{fleet.port}" if ":" in fleet.host else f"{fleet.host}:{fleet.port}"
        ],
    )
    targets = [
        api.database_target(
            stubs, engine="postgresql", server=fleet.host, port=fleet.port, database=database
        )
        for database in fleet.databases
    ]
    # A few quick retries, not the default policy's unbounded ones: a broken run should fail
    # the bench, not keep it waiting.
    policy = api.policy(stubs, initial_ms=100, maximum_ms=1000, coefficient=2.0, attempts=3)
    return api.job(
        stubs,
        content_name=api.content(stubs, SCRIPT),
        target_id=api.collection(stubs, targets),
        credential_name=credential,
        policy_name=policy,
        destination=resources.ResultDestination(
            engine="postgresql",
            server_name=fleet.host,
            port=fleet.port,
            database_name=fleet.destination,
            table_name=FLEETJOBS_TABLE,
            credential_name=credential,
        ),
    )


def _epoch(timestamp: Any) -> float | None:
    if timestamp.seconds == 0 and timestamp.nanos == 0:
        return None
    return float(timestamp.seconds) + float(timestamp.nanos) / 1e9


def _watch_to_end(stubs: Stubs, execution_id: str) -> None:
    stream = stubs.executions.WatchJobExecution(
        ex.WatchJobExecutionRequest(job_execution_id=execution_id), timeout=RUN_TIMEOUT_SECONDS
    )
    try:
        for update in stream:
            if Lifecycle.from_proto(update.job_execution.lifecycle).terminal:
                return
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
            stubs.executions.StopJobExecution(
                ex.StopJobExecutionRequest(job_execution_id=execution_id)
            )
            raise SystemExit(
                f"execution {execution_id} not terminal after "
                f"{RUN_TIMEOUT_SECONDS:.0f} s; stopped it"
            ) from None
        raise
    finally:
        stream.cancel()
    raise SystemExit(f"the watch of {execution_id} ended before a terminal state")


def get_execution(stubs: Stubs, execution_id: str) -> Any:
    return stubs.executions.GetJobExecution(
        ex.GetJobExecutionRequest(job_execution_id=execution_id, include_children=True)
    ).job_execution


def run_fleetjobs(stubs: Stubs, job_name: str, fleet: Fleet, cpu: CpuMeter) -> Run:
    cpu.start()
    wall0 = time.time()
    t0 = time.perf_counter()
    started = stubs.executions.StartJobExecution(ex.StartJobExecutionRequest(job_name=job_name))
    start_rpc = time.perf_counter() - t0
    execution_id = started.job_execution.job_execution_id
    _watch_to_end(stubs, execution_id)
    seconds = time.perf_counter() - t0
    used = cpu.stop()
    execution = get_execution(stubs, execution_id)
    children = _child_times(execution, _collected_at(fleet, execution_id))
    steps = [
        Step("StartJobExecution returned", start_rpc),
        *_fleetjobs_steps(execution, children, wall0, wall0 + seconds),
        *(Step(f"CPU of {name}", value, "cpu") for name, value in used.items()),
    ]
    return Run("fleetjobs", seconds, execution_id, steps)


@dataclass(frozen=True)
class ChildTimes:
    """One child's moments, seconds since the epoch: created by the expansion, started (the
    attempt began: taken from the queue, before waiting for a per-server slot), script done
    (the destination row's collected_at, stamped by the executor), ended (rows committed)."""

    created: float
    started: float
    script_done: float
    ended: float


def _collected_at(fleet: Fleet, execution_id: str) -> dict[str, float]:
    with psycopg.connect(fleet.conninfo(fleet.destination)) as conn:
        rows = conn.execute(
            "SELECT target_database_name, max(extract(epoch FROM collected_at))::float8 "
            f"FROM {FLEETJOBS_TABLE} WHERE job_execution_id = %s GROUP BY 1",
            (execution_id,),
        ).fetchall()
    return {name: when for name, when in rows}


def _child_times(execution: Any, collected: dict[str, float]) -> list[ChildTimes]:
    times = []
    for child in execution.child_executions:
        moments = (
            _epoch(child.create_time),
            _epoch(child.start_time),
            collected.get(child.database_name),
            _epoch(child.end_time),
        )
        if all(m is not None for m in moments):
            times.append(ChildTimes(*(float(m) for m in moments if m is not None)))
    return times


def _fleetjobs_steps(
    execution: Any, children: list[ChildTimes], wall0: float, seen_wall: float
) -> list[Step]:
    """The breakdown from the execution's own timestamps (the services' clocks are this
    machine's, so they compare with the client's wall clock)."""
    parent_end = _epoch(execution.end_time)
    if not children or parent_end is None:
        return []
    median = statistics.median
    return [
        Step("children created (expansion done)", max(c.created for c in children) - wall0),
        Step("first child started", min(c.started for c in children) - wall0),
        Step("last child started", max(c.started for c in children) - wall0),
        Step("child waited in CREATED, median", median(c.started - c.created for c in children)),
        Step(
            "last script done (executor's collected_at)",
            max(c.script_done for c in children) - wall0,
        ),
        Step(
            "child start -> script done (slot wait, connect, script), median",
            median(c.script_done - c.started for c in children),
        ),
        Step(
            "script done -> child ended (results write, outcome), median",
            median(c.ended - c.script_done for c in children),
        ),
        Step("slowest child (start -> end)", max(c.ended - c.started for c in children)),
        Step("last child ended -> parent ended", parent_end - max(c.ended for c in children)),
        Step("parent ended -> client saw it", seen_wall - parent_end),
        Step(
            "attempts per child (mean)",
            sum(c.attempts for c in execution.child_executions) / len(execution.child_executions),
            "",
        ),
    ]


class CpuMeter:
    """CPU seconds the suite's processes (pid files in <state dir>/run/) and this process
    use during a run. The suite's come from /proc/<pid>/stat: without /proc (not Linux) only
    this process is measured."""

    def __init__(self, state_dir: Path) -> None:
        self._run_dir = state_dir / "run"
        self._before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        used = {"the bench process": time.process_time()}
        for pid_file in sorted(self._run_dir.glob("*.pid")):
            try:
                stat = Path(f"/proc/{pid_file.read_text().strip()}/stat").read_text()
            except (OSError, ValueError):
                continue
            fields = stat.rsplit(")", 1)[1].split()
            used[pid_file.stem] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return used

    def start(self) -> None:
        self._before = self._now()

    def stop(self) -> dict[str, float]:
        after = self._now()
        return {name: after[name] - self._before.get(name, 0.0) for name in after}


# --- checks and report -------------------------------------------------------------------


def _destination_rows(fleet: Fleet, table: str, execution_id: str) -> Counter[str]:
    with psycopg.connect(fleet.conninfo(fleet.destination)) as conn:
        rows = conn.execute(
            f"SELECT target_database_name FROM {table} WHERE job_execution_id = %s",
            (execution_id,),
        ).fetchall()
    return Counter(name for (name,) in rows)


def _result_sets(stubs: Stubs, execution_id: str) -> int:
    count, token = 0, ""
    while True:
        page = stubs.results.ListResultSets(
            rs.ListResultSetsRequest(
                job_execution_id=execution_id, page_size=1000, page_token=token
            )
        )
        count += len(page.result_sets)
        token = page.next_page_token
        if not token:
            return count


def verify(stubs: Stubs, fleet: Fleet, runs: Sequence[Run]) -> list[str]:
    """Every run wrote exactly one row set per database; every execution SUCCEEDED with all
    its children. Returns the problems found."""
    expected = Counter(fleet.databases)
    problems: list[str] = []
    for run in runs:
        table = DIRECT_TABLE if run.path == "direct" else FLEETJOBS_TABLE
        written = _destination_rows(fleet, table, run.execution_id)
        if written != expected:
            missing = len(expected - written)
            extra = len(written - expected)
            problems.append(
                f"{run.path} {run.execution_id}: {sum(written.values())} rows "
                f"({missing} databases missing, {extra} extra)"
            )
        if run.path != "fleetjobs":
            continue
        execution = get_execution(stubs, run.execution_id)
        lifecycle = Lifecycle.from_proto(execution.lifecycle)
        children = Counter(Lifecycle.from_proto(c.lifecycle) for c in execution.child_executions)
        if lifecycle is not Lifecycle.SUCCEEDED or children != {
            Lifecycle.SUCCEEDED: len(fleet.databases)
        }:
            problems.append(
                f"fleetjobs {run.execution_id}: {lifecycle.value} "
                f"({execution.message!r}), children {dict(children)}"
            )
        result_sets = _result_sets(stubs, run.execution_id)
        if result_sets != len(fleet.databases):
            problems.append(f"fleetjobs {run.execution_id}: {result_sets} result sets listed")
    return problems


def log_summary(state_dir: Path) -> list[str]:
    """Warnings and errors the services logged, counted per service and event."""
    counts: Counter[str] = Counter()
    for log_file in sorted((state_dir / "logs").glob("*.log")):
        service = log_file.stem
        for line in log_file.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if line.startswith("Traceback"):
                    counts[f"{service}: unstructured traceback"] += 1
                continue
            if isinstance(record, dict) and record.get("level") in {"warning", "error"}:
                counts[f"{service}: {record['level']} {record.get('event', '')!s:.100}"] += 1
    return [f"{n:>5} x {what}" for what, n in counts.most_common(10)]


def _median_steps(runs: Sequence[Run]) -> list[Step]:
    """Each label's median over the runs that have it, in the order of first appearance."""
    values: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        for step in run.steps:
            values.setdefault((step.label, step.unit), []).append(step.value)
    return [Step(label, statistics.median(v), unit) for (label, unit), v in values.items()]


def _format(step: Step) -> str:
    number = {"s": f"{step.value:.2f} s", "cpu": f"{step.value:.2f} s CPU"}.get(
        step.unit, f"{step.value:.1f}"
    )
    return f"    {step.label:<66} {number}"


def _cpu_note(fleetjobs: Sequence[Run], count: int) -> str:
    """How much of the machine the suite's processes kept busy: near 100 % means the run is
    bound by their CPU, not by waiting."""
    steps = _median_steps(fleetjobs)
    suite = sum(s.value for s in steps if s.unit == "cpu" and "bench" not in s.label)
    wall = statistics.median(r.seconds for r in fleetjobs)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return (
        f"  the suite's processes used {suite:.2f} s CPU per run ({1000 * suite / count:.1f} ms "
        f"per database) = {100 * suite / (cores * wall):.0f} % of {cores} cores over the run "
        "(PostgreSQL's own CPU not counted)"
    )


def report(count: int, direct: Sequence[Run], fleetjobs: Sequence[Run]) -> str:
    d = statistics.median(r.seconds for r in direct)
    f = statistics.median(r.seconds for r in fleetjobs)
    lines = [
        f"bench: {count} PostgreSQL databases, per-server cap {CAP}",
        f"  direct     median {d:.2f} s  (runs {' '.join(f'{r.seconds:.2f}' for r in direct)})",
        f"  fleetjobs  median {f:.2f} s  (runs {' '.join(f'{r.seconds:.2f}' for r in fleetjobs)})",
        f"  ratio fleetjobs/direct = {f / d:.2f}  (goal <= 1.3)",
        "  direct breakdown (median of the timed runs; times from the start of the run):",
        *map(_format, _median_steps(direct)),
        "  fleetjobs breakdown (median of the timed runs; times from StartJobExecution):",
        *map(_format, _median_steps(fleetjobs)),
        _cpu_note(fleetjobs, count),
    ]
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------


def _timed(runner: Callable[[], Run]) -> Run:
    run = runner()
    print(f"  {run.path:<10} {run.seconds:6.2f} s  ({run.execution_id})", flush=True)
    return run


def bench(count: int, repeats: int, state_dir: Path) -> int:
    print(f"creating {count} databases ...", flush=True)
    t0 = time.perf_counter()
    with fleet_of(count) as fleet, running_suite(state_dir) as stubs:
        print(
            f"  databases and suite ready in {time.perf_counter() - t0:.1f} s "
            f"(run id {fleet.run_id}, state dir {state_dir})",
            flush=True,
        )
        job_name = define_job(stubs, fleet)
        cpu = CpuMeter(state_dir)

        def fleetjobs_run() -> Run:
            return run_fleetjobs(stubs, job_name, fleet, cpu)

        print("warm-up:", flush=True)
        warm = [_timed(lambda: run_direct(fleet)), _timed(fleetjobs_run)]
        print("timed runs:", flush=True)
        direct: list[Run] = []
        fleetjobs: list[Run] = []
        for _ in range(repeats):
            direct.append(_timed(lambda: run_direct(fleet)))
            fleetjobs.append(_timed(fleetjobs_run))
        problems = verify(stubs, fleet, [*warm, *direct, *fleetjobs])
        logged = log_summary(state_dir)
    print()
    print(report(count, direct, fleetjobs))
    print("  warnings and errors in the suite's logs: " + ("none" if not logged else ""))
    for line in logged:
        print(f"    {line}")
    if problems:
        print("\nCORRECTNESS CHECK FAILED:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(
        f"  checked: every run wrote one row set per database ({count}); every execution SUCCEEDED"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--keep-state",
        action="store_true",
        help="keep the suite's state directory (logs/) for inspection",
    )
    args = parser.parse_args(argv)
    state_dir = Path(tempfile.mkdtemp(prefix="fjbench-"))
    try:
        return bench(args.databases, args.runs, state_dir)
    finally:
        if args.keep_state:
            print(f"state dir kept: {state_dir}")
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
