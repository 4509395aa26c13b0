from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetjobs.testing._fleet import (
    Login,
    mariadb_login_with_databases,
    new_login,
    postgres_login_with_databases,
)
from fleetjobs.testing._nats import NatsProcess
from fleetjobs.testing._suite import RunningSuite, start_suite
from fleetjobs.testing.fixtures import make_settings


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def control_db_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_control_db" if request.param == "sqlite" else "postgres_control_db"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(scope="module")
def suite(
    control_db_url: str, nats_server: NatsProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSuite]:
    settings = make_settings(
        state_dir=tmp_path_factory.mktemp("suite"),
        control_db_url=control_db_url,
        nats_url=nats_server.url,
    )
    running = start_suite(settings)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def login() -> Login:
    return new_login()


@pytest.fixture(scope="module")
def postgres_fleet(postgres: None, login: Login) -> Iterator[list[str]]:
    """Ten target databases and one destination database, all owned by `login`."""
    with postgres_login_with_databases(
        11, username=login.username, password=login.password
    ) as names:
        yield names


@pytest.fixture(scope="module")
def mariadb_fleet(mariadb: None, login: Login) -> Iterator[list[str]]:
    with mariadb_login_with_databases(5, username=login.username, password=login.password) as names:
        yield names


@pytest.fixture
def sqlite_root(suite: RunningSuite) -> Path:
    return suite.settings.sqlite_root
