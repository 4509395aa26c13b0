"""Alembic environment: the URL comes from fleetjobs (never from an ini file)."""

from __future__ import annotations

from alembic import context

import fleetjobs.core.db.models  # noqa: F401  (registers every table on Base.metadata)
from fleetjobs.core.db._base import Base
from fleetjobs.core.db._engine import make_sync_engine

config = context.config
engine = make_sync_engine(config.attributes["url"])
try:
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
