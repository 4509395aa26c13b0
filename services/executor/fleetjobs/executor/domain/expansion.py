"""A job's target, expanded into the databases it stands for at execution time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fleetjobs.core.sql import DEFAULT_PORTS
from fleetjobs.v1 import catalog_resources_pb2 as resources


@dataclass(frozen=True)
class DatabaseToRun:
    target_id: str
    engine: str
    server_name: str
    port: int
    database_name: str
    options: dict[str, str] = field(default_factory=dict)


class ExpansionError(ValueError):
    """The target cannot be expanded; the message says why."""


async def expand_target(
    root: resources.Target,
    list_children: Callable[[str], Awaitable[list[resources.Target]]],
) -> list[DatabaseToRun]:
    """Database targets under `root`, each once, in a stable order. Collections nest."""
    found: dict[str, DatabaseToRun] = {}
    visited: set[str] = set()

    async def visit(target: resources.Target) -> None:
        kind = target.WhichOneof("kind")
        if kind == "database":
            database = target.database
            found.setdefault(
                target.target_id,
                DatabaseToRun(
                    target_id=target.target_id,
                    engine=database.engine,
                    server_name=database.server_name,
                    port=database.port or DEFAULT_PORTS.get(database.engine, 0),
                    database_name=database.database_name,
                    options=dict(database.options),
                ),
            )
        elif kind == "custom_collection":
            if target.target_id in visited:
                return  # a collection reachable twice is expanded once
            visited.add(target.target_id)
            for child in await list_children(target.target_id):
                await visit(child)
        else:
            raise ExpansionError(f"target kind {kind or 'unset'} cannot be expanded yet")

    await visit(root)
    return sorted(found.values(), key=lambda d: (d.engine, d.server_name, d.database_name))
