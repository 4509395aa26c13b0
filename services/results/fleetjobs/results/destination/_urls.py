"""The SQLAlchemy URL of a destination database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

    MySQL/MariaDB: the password is left out of the URL; pass `destination_connect_args` to
    `create_engine(connect_args=...)`, which sends it as UTF-8 bytes.

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
        password=(password or None) if engine != "mysql" else None,
        host=server_name or None,
        port=port or None,
        database=database_name,
        # utf8mb4 is PyMySQL's default too; saying so keeps 4-byte characters working if a
        # future default changes.
        query={"charset": "utf8mb4"} if engine == "mysql" else {},
    )


def destination_connect_args(engine: str, password: str) -> dict[str, Any]:
    """The driver's connect() arguments a destination's URL leaves out: for MySQL/MariaDB the
    password, as UTF-8 bytes (SQLAlchemy lays `connect_args` over the URL's arguments). Raises
    DestinationRefusedError for a password that cannot be sent.

    PyMySQL encodes a `str` password as Latin-1, which fails on `€` with a UnicodeEncodeError
    naming the character and its position. The server hashes the bytes the password was given
    as in CREATE USER / SET PASSWORD, which are UTF-8 over a utf8mb4 connection; so UTF-8 is
    sent, as the executor's MySQL connector does. PostgreSQL's psycopg sends UTF-8 already,
    from the URL; a password no engine can send is refused for every engine alike.
    """
    if not password:
        return {}
    try:
        encoded = password.encode("utf-8")
    except UnicodeEncodeError:
        # Only lone surrogates fail, which no server can have been given. No position or
        # character in the message: both would tell something about the password.
        raise DestinationRefusedError(
            "the password cannot be sent: it is not valid Unicode text"
        ) from None
    return {"password": encoded} if engine == "mysql" else {}


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
