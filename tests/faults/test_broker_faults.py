"""The broker goes away under load: NATS stopped (SIGTERM) or killed (SIGKILL) with hundreds
of tasks in flight and brought back by `make up`, and NATS restarted on a wiped JetStream
store. The control database is the truth: nothing is lost, nothing is doubled, and the
services resume on their own (none of them is restarted)."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator

import pytest

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing._faults import (
    COUNTING_SQLITE_SCRIPT,
    FAST_DELIVERY,
    lifecycles,
    postgres_job,
    runs_per_attempt,
    sqlite_destination,
    sqlite_job,
    start,
    wait_until,
)
from fleetjobs.testing._invariants import Destination, attempts_of, check_execution, children
from fleetjobs.testing._launched import LauncherSuite, launched_suite
from fleetjobs.testing._servers import postgres_databases

TASKS = 500
SCRIPT = COUNTING_SQLITE_SCRIPT


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LauncherSuite]:
    env = {**FAST_DELIVERY, "FLEETJOBS_EXECUTORS": "2"}
    with launched_suite(tmp_path_factory.mktemp("broker-faults"), env=env) as suite:
        yield suite


@pytest.fixture(scope="module")
def postgres_fleet(postgres: None) -> Iterator[list[str]]:
    with postgres_databases(20, prefix="fjt_wipe") as names:
        yield names


def _succeeded(suite: LauncherSuite, parent: str) -> int:
    return sum(
        child.lifecycle is Lifecycle.SUCCEEDED for child in children(suite.control_db_url, parent)
    )


def _defined(suite: LauncherSuite) -> tuple[str, Destination]:
    """The SQLite job and its destination. Defining its 500 targets takes seconds: done before
    anything the test times is started."""
    job_destination, destination = sqlite_destination(suite)
    return sqlite_job(suite, TASKS, SCRIPT, destination=job_destination), destination


def _partly_done(suite: LauncherSuite, job: str) -> str:
    parent = start(suite, job)
    wait_until(lambda: _succeeded(suite, parent) >= 20, 60, "the first databases are done")
    return parent


def _started_and_partly_done(suite: LauncherSuite) -> tuple[str, Destination]:
    job, destination = _defined(suite)
    return _partly_done(suite, job), destination


def _services(suite: LauncherSuite) -> dict[str, int]:
    return {name: pid for name, pid in suite.pids().items() if name != "nats"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_nats_restarted_with_tasks_in_flight(healed: LauncherSuite, sig: signal.Signals) -> None:
    suite = healed
    services = _services(suite)
    url = suite.nats_url()
    parent, destination = _started_and_partly_done(suite)

    suite.kill("nats", sig)
    done_at_kill = _succeeded(suite, parent)
    suite.up()
    execution = suite.wait_terminal(parent, timeout=90)

    assert done_at_kill < TASKS, "the broker went down after the work was done"
    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, lifecycles(
        suite, parent
    )
    assert (
        check_execution(suite.control_db_url, parent, destination=destination, rows_per_database=1)
        == []
    )
    assert runs_per_attempt(suite, parent) == []
    # Nothing but NATS was restarted, on the address the services knew.
    assert _services(suite) == services
    assert suite.nats_url() == url


def test_jetstream_store_wiped_and_republished(
    healed: LauncherSuite, postgres_fleet: list[str]
) -> None:
    """Every stream, consumer and the server-slot bucket are gone: the services set them up
    again, the reconcilers republish what the control database says is unfinished. A
    PostgreSQL job runs beside the SQLite one, so its attempts need server slots."""
    suite = healed
    services = _services(suite)
    sqlite_job_name, destination = _defined(suite)
    servers_destination, servers_table = sqlite_destination(suite)
    on_servers = start(
        suite,
        postgres_job(
            suite,
            postgres_fleet,
            "DO $$ BEGIN PERFORM pg_sleep(4); END $$; SELECT current_database() AS db;",
            destination=servers_destination,
        ),
    )
    wait_until(
        lambda: any(
            a.lifecycle == "IN_PROGRESS" for a in attempts_of(suite.control_db_url, on_servers)
        ),
        30,
        "the PostgreSQL attempts run",
    )
    parent = _partly_done(suite, sqlite_job_name)

    suite.kill("nats", signal.SIGKILL)
    done_at_kill = [_succeeded(suite, parent), _succeeded(suite, on_servers)]
    shutil.rmtree(suite.nats_store)
    suite.up()
    execution = suite.wait_terminal(parent, timeout=90)
    servers = suite.wait_terminal(on_servers, timeout=60)

    assert done_at_kill[0] < TASKS and done_at_kill[1] < len(postgres_fleet), done_at_kill
    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, lifecycles(
        suite, parent
    )
    assert Lifecycle.from_proto(servers.lifecycle) is Lifecycle.SUCCEEDED, lifecycles(
        suite, on_servers
    )
    assert (
        check_execution(suite.control_db_url, parent, destination=destination, rows_per_database=1)
        == []
    )
    assert runs_per_attempt(suite, parent) == []
    assert (
        check_execution(
            suite.control_db_url,
            on_servers,
            destination=servers_table,
            rows_per_database=1,
            postgres_targets=postgres_fleet,
        )
        == []
    )
    assert _services(suite) == services
