"""The control database: engines, the declarative Base, table models and migrations.

All tables live in one Alembic chain because they share one database, but each has one
writer (docs/adr/0001-one-writer-per-row.md): the module a model lives in names its owner.
"""

from fleetjobs.core.db._base import Base, utcnow
from fleetjobs.core.db._engine import (
    async_url,
    make_async_engine,
    make_session_factory,
    make_sync_engine,
    sync_url,
)
from fleetjobs.core.db._migrate import SchemaOutdatedError, assert_schema_current, upgrade_to_head

__all__ = [
    "Base",
    "SchemaOutdatedError",
    "assert_schema_current",
    "async_url",
    "make_async_engine",
    "make_session_factory",
    "make_sync_engine",
    "sync_url",
    "upgrade_to_head",
    "utcnow",
]
