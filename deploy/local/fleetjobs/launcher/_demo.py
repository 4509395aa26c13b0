"""`make run`: the seeds' TestTable scenario across 50 SQLite tenant databases (plus
PostgreSQL / MariaDB tenants when FLEETJOBS_DEMO_POSTGRES_URL / _MYSQL_URL are set), defined
and run through the `fleetjobs` CLI exactly as a user would type it, then the destination
table shown. Safe to run again: every create carries a request id, so a rerun reuses the
definitions and starts a new execution."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fleetjobs.cli.__main__ import main as fleetjobs
from fleetjobs.launcher._suite import Suite, describe

SQLITE_TENANTS = 50
SERVER_TENANTS = 5
RESULTS_DATABASE = "demo/results.db"
RESULTS_TABLE = "TestTableResults"
# The seeds' TestTable script in portable SQL (the T-SQL form with GO batches belongs to the
# mssql tests): idempotent DDL, one insert per run, and the rows as the first result set.
SCRIPT = """\
CREATE TABLE IF NOT EXISTS TestTable (TestTableId INT PRIMARY KEY, InsertionTime VARCHAR(40));
INSERT INTO TestTable (TestTableId, InsertionTime)
  SELECT COALESCE(MAX(TestTableId), 0) + 1, CURRENT_TIMESTAMP FROM TestTable;
SELECT TestTableId AS test_table_id, InsertionTime AS insertion_time FROM TestTable;
"""


def _cli(args: Sequence[str], *, capture: bool = False, env: dict[str, str] | None = None) -> str:
    """Runs one `fleetjobs` command in-process and echoes it like a shell transcript."""
    print(f"$ fleetjobs {shlex.join(args)}", flush=True)
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out) if capture else contextlib.nullcontext():
            code = fleetjobs(list(args))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if capture:
        sys.stdout.write(out.getvalue())
    if code not in (0, 8):
        raise SystemExit(f"`fleetjobs {shlex.join(args)}` failed with exit code {code}")
    return out.getvalue().strip()


def _define_common() -> None:
    _cli(
        [
            "content",
            "create",
            "demo-testtable",
            "--text",
            SCRIPT,
            "--comment",
            "the seeds' TestTable scenario",
            "--request-id",
            "demo-testtable",
        ]
    )


def _allow_entry(host: str, port: int) -> str:
    """The demo server with its port: a bare host would allow the default port only
    (docs/credentials.md), and a demo URL may name another."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _job(name: str, collection: str, credential: str | None) -> None:
    args = [
        "job",
        "create",
        name,
        "--content",
        "demo-testtable",
        "--target",
        collection,
        "--dest-engine",
        "sqlite",
        "--dest-database",
        RESULTS_DATABASE,
        "--dest-table",
        RESULTS_TABLE,
        "--request-id",
        name,
    ]
    if credential:
        args += ["--credential", credential]
    _cli(args)


def _collection(name: str, databases: list[tuple[str, str, int, str]]) -> str:
    collection = _cli(
        ["target", "create-collection", name, "--request-id", name], capture=True
    ).splitlines()[-1]
    for index, (engine, server, port, database) in enumerate(databases):
        args = ["target", "add-database", "--engine", engine, "--database", database]
        if server:
            args += ["--server", server, "--port", str(port)]
        # Fifty identical lines teach nothing: show the first and last, run them all.
        quiet = 0 < index < len(databases) - 1
        if quiet:
            with contextlib.redirect_stdout(io.StringIO()):
                target = _quiet_cli(args)
                _quiet_cli(["target", "add-child", name, target])
            if index == 1:
                print(f"  … {len(databases) - 2} more tenants …")
            continue
        target = _cli(args, capture=True).splitlines()[-1]
        _cli(["target", "add-child", name, target])
    return collection


def _quiet_cli(args: Sequence[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = fleetjobs(list(args))
    if code != 0:
        raise SystemExit(f"`fleetjobs {shlex.join(args)}` failed with exit code {code}")
    return out.getvalue().strip().splitlines()[-1]


def _server_tenants(url: str, engine: str) -> tuple[list[tuple[str, str, int, str]], str, str]:
    """Creates (if missing) SERVER_TENANTS databases on the server the URL names."""
    parts = urlsplit(url)
    host, port = (
        parts.hostname or "127.0.0.1",
        parts.port or (5432 if engine == "postgresql" else 3306),
    )
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    names = [f"fleetjobs_demo_{i:02d}" for i in range(1, SERVER_TENANTS + 1)]
    if engine == "postgresql":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            for name in names:
                if name not in existing:
                    conn.execute(f'CREATE DATABASE "{name}"')
    else:
        import pymysql

        conn = pymysql.connect(host=host, port=port, user=user, password=password, autocommit=True)
        with conn.cursor() as cursor:
            for name in names:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        conn.close()
    return [(engine, host, port, name) for name in names], user, password


def _run(job: str) -> str:
    execution = _cli(["execution", "start", job, "--wait"], capture=True).splitlines()
    return next(line for line in execution if len(line) == 36 and line.count("-") == 4)


def _show_results(sqlite_root: Path, execution_ids: list[str]) -> None:
    path = sqlite_root / RESULTS_DATABASE
    with sqlite3.connect(path) as conn:
        marks = ",".join("?" * len(execution_ids))
        total = conn.execute(
            "SELECT count(*), count(DISTINCT target_engine || target_database_name) "
            f"FROM {RESULTS_TABLE} "
            f"WHERE job_execution_id IN ({marks})",
            execution_ids,
        ).fetchone()
        rows = conn.execute(
            f"SELECT target_engine, target_database_name, test_table_id, insertion_time "
            f"FROM {RESULTS_TABLE} WHERE job_execution_id IN ({marks}) "
            "ORDER BY target_engine, target_database_name, test_table_id LIMIT 12",
            execution_ids,
        ).fetchall()
    print(f"\nDestination table {RESULTS_TABLE} in {path}:")
    print(f"  {total[0]} rows from {total[1]} databases for this run; the first few:")
    print(f"  {'engine':<11} {'database':<28} {'test_table_id':>13}  insertion_time")
    for engine, database, test_id, inserted in rows:
        print(f"  {engine:<11} {database:<28} {test_id:>13}  {inserted}")


def run_demo(suite: Suite) -> int:
    endpoints = suite.up()
    print(describe(endpoints, suite.nats_url, suite.state_dir), "\n")
    # The CLI in this process talks to the suite just started.
    for name, address in suite.settings.addresses.items():
        os.environ.setdefault(f"FLEETJOBS_{name.upper()}_ADDR", address)
    _define_common()
    sqlite_dbs = [
        ("sqlite", "", 0, f"demo/tenant_{i:02d}.db") for i in range(1, SQLITE_TENANTS + 1)
    ]
    collection = _collection("demo-sqlite-tenants", sqlite_dbs)
    _job("demo-sqlite", collection, None)
    executions = [_run("demo-sqlite")]
    for engine, variable in (
        ("postgresql", "FLEETJOBS_DEMO_POSTGRES_URL"),
        ("mysql", "FLEETJOBS_DEMO_MYSQL_URL"),
    ):
        url = os.environ.get(variable)
        if not url:
            continue
        databases, user, password = _server_tenants(url, engine)
        credential = f"demo-{engine}"
        _cli(
            [
                "credential",
                "create",
                credential,
                "--username",
                user,
                "--password-env",
                "FLEETJOBS_DEMO_PASSWORD",
                "--allow",
                _allow_entry(databases[0][1], databases[0][2]),
                "--request-id",
                credential,
            ],
            env={"FLEETJOBS_DEMO_PASSWORD": password},
        )
        # Sealed again on every run: a state dir from an earlier run may hold this credential
        # with another password, or in a form sealed before its allow-list was.
        _cli(
            [
                "credential",
                "update",
                credential,
                "--password-env",
                "FLEETJOBS_DEMO_PASSWORD",
                "--allow",
                _allow_entry(databases[0][1], databases[0][2]),
            ],
            env={"FLEETJOBS_DEMO_PASSWORD": password},
        )
        tenants = _collection(f"demo-{engine}-tenants", databases)
        _job(f"demo-{engine}", tenants, credential)
        executions.append(_run(f"demo-{engine}"))
    _show_results(suite.settings.sqlite_root, executions)
    catalog = suite.settings.addresses["catalog"]
    scheduler = suite.settings.addresses["scheduler"]
    request = f'{{"job_execution_id": "{executions[0]}", "include_children": true}}'
    print(f"""
Explore it (reflection only, no proto files needed):
  .venv/bin/grpcurl -plaintext {catalog} list
  .venv/bin/grpcurl -plaintext -d '{request}' \\
      {scheduler} fleetjobs.v1.ExecutionService/GetJobExecution
  .venv/bin/fleetjobs execution show {executions[0]} --children
  .venv/bin/fleetjobs task list {executions[0]}
Run it again with `make run` (a new execution, the same definitions); stop with `make stop`.""")
    return 0
