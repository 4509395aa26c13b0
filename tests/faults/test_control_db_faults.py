"""The control database restarted mid-run: a private PostgreSQL cluster (initdb, a free
port; never the shared server, which holds every other test's databases) goes down with a
fast shutdown, which cuts every session, and comes back. The services reconnect on their
own; nothing is lost, nothing is duplicated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fleetjobs.core.db import upgrade_to_head
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing._cluster import PrivateCluster, private_cluster
from fleetjobs.testing._faults import (
    COUNTING_SQLITE_SCRIPT,
    FAST_DELIVERY,
    lifecycles,
    runs_per_attempt,
    sqlite_destination,
    sqlite_job,
    start,
    wait_until,
)
from fleetjobs.testing._invariants import check_execution, children
from fleetjobs.testing._launched import LauncherSuite, launched_suite
from fleetjobs.testing._servers import absent

TASKS = 300
SCRIPT = COUNTING_SQLITE_SCRIPT


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    try:
        with private_cluster() as started:
            yield started
    except RuntimeError as error:
        absent(f"cannot start a private PostgreSQL cluster: {error}")


@pytest.fixture(scope="module")
def launched(
    cluster: PrivateCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LauncherSuite]:
    url = cluster.create_database("control")
    upgrade_to_head(url)
    env = {**FAST_DELIVERY, "FLEETJOBS_EXECUTORS": "2"}
    with launched_suite(
        tmp_path_factory.mktemp("control-db-faults"), env=env, control_db_url=url
    ) as suite:
        yield suite


def _succeeded(suite: LauncherSuite, parent: str) -> int:
    return sum(
        child.lifecycle is Lifecycle.SUCCEEDED for child in children(suite.control_db_url, parent)
    )


def test_control_database_restarted_mid_run(healed: LauncherSuite, cluster: PrivateCluster) -> None:
    suite = healed
    services = suite.pids()
    job_destination, destination = sqlite_destination(suite)
    parent = start(suite, sqlite_job(suite, TASKS, SCRIPT, destination=job_destination))
    wait_until(lambda: _succeeded(suite, parent) >= 20, 60, "the first databases are done")

    done_at_restart = _succeeded(suite, parent)
    cluster.restart(down_seconds=2.0)
    execution = suite.wait_terminal(parent, timeout=90)

    assert done_at_restart < TASKS, "the control database went down after the work was done"
    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, lifecycles(
        suite, parent
    )
    assert (
        check_execution(suite.control_db_url, parent, destination=destination, rows_per_database=1)
        == []
    )
    assert runs_per_attempt(suite, parent) == []
    # Nobody was restarted: the services reconnected by themselves.
    assert suite.pids() == services
