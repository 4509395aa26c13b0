"""The migration chain builds exactly the schema the models describe, on both control
database engines, and each step can be walked back."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fleetjobs.core.db import Base, upgrade_to_head
from fleetjobs.core.db._engine import make_sync_engine
from fleetjobs.core.db._migrate import _config
from fleetjobs.testing._servers import postgres_databases, postgres_url


def _differences(url: str) -> list[object]:
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_sync_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/control.db"
    upgrade_to_head(url)
    assert _differences(url) == []


def test_postgresql_schema_matches_the_models(postgres: None) -> None:
    with postgres_databases(1, prefix="fjt_migrate") as (name,):
        url = postgres_url(name)
        upgrade_to_head(url)
        assert _differences(url) == []


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_every_step_walks_back_and_forward(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "postgresql":
        request.getfixturevalue("postgres")
        with postgres_databases(1, prefix="fjt_migrate") as (name,):
            _walk_back_and_forward(postgres_url(name))
    else:
        _walk_back_and_forward(f"sqlite:///{tmp_path}/control.db")


def _walk_back_and_forward(url: str) -> None:
    upgrade_to_head(url)
    config = _config(url)
    command.downgrade(config, "0001")
    assert "job_expansion_locks" not in _tables(url)
    command.upgrade(config, "head")
    assert "job_expansion_locks" in _tables(url)
    assert _differences(url) == []
