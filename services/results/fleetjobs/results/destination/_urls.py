"""The SQLAlchemy URL of a destination database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL

from fleetjobs.results.destination._errors import DestinationRefusedError
from fleetjobs.results.destination._types import SUPPORTED_ENGINES

_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def build_destination_url(  # noqa: PLR0917 (the positional parts read like an address)
    engine: str,
    server_name: str,
    port: int,
    database_name: str,
    username: str,
    password: str,
    *,
    sqlite_root: Path,
) -> URL:
    """Builds the URL from its parts with `URL.create`, so a password is never formatted into
    a string (any character works, and nothing can leak through a half-parsed URL). Port 0
    means the engine's default; an empty username or password means none.

    SQLite: `server_name`, `port` and the login are ignored, and `database_name` is a path
    relative to `sqlite_root`; a path resolving outside the root (absolute, `..`, a symlink
    leading out) raises DestinationRefusedError, as for targets. So does an engine with no
    destination driver.
    """
    if engine not in SUPPORTED_ENGINES:
        raise DestinationRefusedError(
            f"no destination driver for engine {engine!r}; destination tables can be written "
            f"to {', '.join(SUPPORTED_ENGINES)}"
        )
    if engine == "sqlite":
        return URL.create("sqlite+pysqlite", database=str(_confined(database_name, sqlite_root)))
    if not database_name:
        raise DestinationRefusedError("the destination has no database name")
    return URL.create(
        _DRIVERS[engine],
        username=username or None,
        password=password or None,
        host=server_name or None,
        port=port or None,
        database=database_name,
        # utf8mb4 is PyMySQL's default too; saying so keeps 4-byte characters working if a
        # future default changes.
        query={"charset": "utf8mb4"} if engine == "mysql" else {},
    )


def _confined(database_name: str, sqlite_root: Path) -> Path:
    refusal = DestinationRefusedError(
        f"SQLite destination {database_name!r} is not a file inside FLEETJOBS_SQLITE_ROOT"
    )
    if not database_name or "\x00" in database_name:
        raise refusal
    root = sqlite_root.resolve()
    # resolve() follows symlinks and `..`, so the check is on where the file really is; an
    # absolute database_name replaces the root in the join and is refused the same way.
    path = (root / database_name).resolve()
    if path == root or not path.is_relative_to(root):
        raise refusal
    return path
