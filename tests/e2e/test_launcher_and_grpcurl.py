"""The suite as a user runs it: `make up` (the launcher) starting real processes, one session
driven by grpcurl through server reflection only, no secret left anywhere, `make stop`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetjobs.testing._fleet import Login, mariadb_login_with_databases, new_login
from fleetjobs.testing._launched import GRPCURL, LauncherSuite
from fleetjobs.testing._launched import process_alive as _alive


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LauncherSuite]:
    suite = LauncherSuite(tmp_path_factory.mktemp("launched"))
    first = suite.launcher("up")
    assert first.returncode == 0, first.stdout + first.stderr
    try:
        yield suite
    finally:
        suite.stop()


@pytest.fixture(scope="module")
def login(mariadb: None) -> Login:
    return new_login()


@pytest.fixture(scope="module")
def mariadb_database(login: Login) -> Iterator[str]:
    with mariadb_login_with_databases(1, username=login.username, password=login.password) as (
        name,
    ):
        yield name


def test_up_twice_is_harmless(launched: LauncherSuite) -> None:
    before = launched.pids()
    assert set(before) == {"nats", "catalog-1", "scheduler-1", "executor-1", "results-1"}

    again = launched.launcher("up")

    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert launched.pids() == before
    assert all(_alive(pid) for pid in before.values())


def test_grpcurl_session_by_reflection_leaves_no_secret(
    launched: LauncherSuite, login: Login, mariadb_database: str
) -> None:
    listed = subprocess.run(
        [GRPCURL, "-plaintext", launched.addresses["catalog"], "list"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert "fleetjobs.v1.CatalogService" in listed

    catalog = "fleetjobs.v1.CatalogService/"
    launched.grpcurl(
        "catalog",
        catalog + "CreateCredential",
        {
            "credential": {
                "name": "tenant-admin",
                "username": login.username,
                "password": login.password,
                "allowed_servers": ["127.0.0.1"],
            }
        },
    )
    launched.grpcurl(
        "catalog",
        catalog + "CreateContent",
        {
            "content": {
                "name": "testtable",
                "script": {
                    "command_text": (
                        "CREATE TABLE IF NOT EXISTS TestTable"
                        " (TestTableId INT PRIMARY KEY, Note VARCHAR(20));"
                        "REPLACE INTO TestTable VALUES (1, 'grpcurl');"
                        "SELECT TestTableId AS id, Note AS note FROM TestTable;"
                    )
                },
            }
        },
    )
    target = launched.grpcurl(
        "catalog",
        catalog + "CreateTarget",
        {
            "target": {
                "database": {
                    "engine": "mysql",
                    "server_name": "127.0.0.1",
                    "database_name": mariadb_database,
                }
            }
        },
    )["target"]["target_id"]
    launched.grpcurl(
        "catalog",
        catalog + "CreateJob",
        {
            "job": {
                "name": "collect",
                "content_name": "testtable",
                "credential_name": "tenant-admin",
                "target_id": target,
                "result_destination": {
                    "engine": "sqlite",
                    "database_name": "results.db",
                    "table_name": "collected",
                },
            }
        },
    )
    started = launched.grpcurl(
        "scheduler", "fleetjobs.v1.ExecutionService/StartJobExecution", {"job_name": "collect"}
    )["job_execution"]["job_execution_id"]
    execution: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        execution = launched.grpcurl(
            "scheduler",
            "fleetjobs.v1.ExecutionService/GetJobExecution",
            {"job_execution_id": started, "include_children": True},
        )["job_execution"]
        if execution["lifecycle"] not in (
            "LIFECYCLE_CREATED",
            "LIFECYCLE_WAITING_FOR_CHILD_JOB_EXECUTIONS",
        ):
            break
        time.sleep(0.2)
    assert execution["lifecycle"] == "LIFECYCLE_SUCCEEDED", execution
    result_sets = launched.grpcurl(
        "results", "fleetjobs.v1.ResultsService/ListResultSets", {"job_execution_id": started}
    )["result_sets"]
    assert [(s["database_name"], s["rows_written"]) for s in result_sets] == [
        (mariadb_database, "1")
    ]
    credential = launched.grpcurl("catalog", catalog + "GetCredential", {"name": "tenant-admin"})[
        "credential"
    ]
    assert "password" not in credential and "encrypted_password" not in credential

    # The control database, the logs, the NATS store: no plaintext password anywhere.
    secret = login.password.encode()
    leaks = [
        str(path)
        for path in launched.state_dir.rglob("*")
        if path.is_file() and secret in path.read_bytes()
    ]
    assert leaks == []


def test_stop_leaves_nothing_running(tmp_path: Path) -> None:
    suite = LauncherSuite(tmp_path)
    assert suite.launcher("up").returncode == 0
    pids = suite.pids()
    assert len(pids) == 5

    stopped = suite.launcher("stop")

    assert stopped.returncode == 0, stopped.stderr
    assert not any(_alive(pid) for pid in pids.values())
    assert suite.pids() == {}
