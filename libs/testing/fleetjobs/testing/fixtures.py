"""pytest fixtures shared by every test folder (loaded from the root conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetjobs.core.config import CommonSettings
from fleetjobs.core.db import upgrade_to_head
from fleetjobs.testing._nats import NatsProcess, start_nats
from fleetjobs.testing._servers import (
    absent,
    free_port,
    mariadb_available,
    postgres_available,
    postgres_databases,
    postgres_url,
)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsProcess]:
    try:
        server = start_nats(tmp_path_factory.mktemp("nats"))
    except RuntimeError as error:
        absent(f"cannot start nats-server: {error}")
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> None:
    reason = postgres_available()
    if reason:
        absent(reason)


@pytest.fixture(scope="session")
def mariadb() -> None:
    reason = mariadb_available()
    if reason:
        absent(reason)


@pytest.fixture(scope="session")
def sqlite_control_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('control')}/control.db"
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def postgres_control_db(postgres: None) -> Iterator[str]:
    with postgres_databases(1, prefix="fjt_control") as (name,):
        url = postgres_url(name)
        upgrade_to_head(url)
        yield url


def make_settings(
    *, state_dir: Path, control_db_url: str, nats_url: str, **overrides: object
) -> CommonSettings:
    """Settings for one in-process suite: its own state dir, NATS prefix and free ports."""
    values: dict[str, object] = {
        "state_dir": state_dir,
        "control_db_url": control_db_url,
        "nats_url": nats_url,
        "nats_prefix": f"t{uuid.uuid4().hex[:10]}",
        "sqlite_root": state_dir / "sqlite",
        "addresses": {
            name: f"127.0.0.1:{free_port()}"
            for name in ("catalog", "scheduler", "executor", "results")
        },
    }
    values.update(overrides)
    return CommonSettings(**values)  # type: ignore[arg-type]
