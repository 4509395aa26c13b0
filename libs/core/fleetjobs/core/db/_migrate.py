"""Alembic, driven from code: `fleetjobs migrate` upgrades; services refuse an outdated schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from fleetjobs.core.db._engine import make_sync_engine, sync_url

_MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutdatedError(RuntimeError):
    """The control database is not at the newest migration."""


def _config(url: str | URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # Stored unrendered: alembic's config is an INI parser, where '%' would need escaping.
    config.attributes["url"] = sync_url(url)
    return config


def _ensure_sqlite_directory(url: str | URL) -> None:
    parsed = sync_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def upgrade_to_head(url: str | URL) -> str:
    """Applies every pending migration; returns the head revision."""
    _ensure_sqlite_directory(url)
    config = _config(url)
    command.upgrade(config, "head")
    return head_revision()


def head_revision() -> str:
    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
    assert head is not None, "no migrations found"
    return head


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def assert_schema_current(url: str | URL) -> None:
    """Raises SchemaOutdatedError unless the database is at the head revision."""
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            current = _current_revision(connection)
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        raise SchemaOutdatedError(
            f"control database schema is at {current or 'nothing'}, fleetjobs needs {head}: "
            "run `fleetjobs migrate` (make up does it)"
        )
