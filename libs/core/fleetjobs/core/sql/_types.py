"""The canonical type set every result column is mapped to.

Connectors map their driver's column types onto these names, and the results service maps
them onto the destination engine. Going through one small set is what makes a mixed
PostgreSQL / MariaDB / SQLite collection create the same destination table whichever
database answers first.
"""

from __future__ import annotations

from enum import StrEnum


class CanonicalType(StrEnum):
    BOOLEAN = "boolean"
    INTEGER = "integer"  # 64-bit signed
    FLOAT = "float"  # IEEE double
    DECIMAL = "decimal"  # exact numeric, carried as text
    TEXT = "text"
    BINARY = "binary"
    DATE = "date"  # carried as ISO text
    TIME = "time"  # carried as ISO text
    TIMESTAMP = "timestamp"  # carried in UTC; naive values are taken as UTC


# The port a target on each engine listens on when its definition says 0.
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}


def server_label(engine: str, server_name: str, port: int) -> str:
    """The server as the destination table's `target_server_name` names it: the host, with
    `:port` when the port is not the engine's default. Two databases of the same name on two
    ports of one host are two databases, and must never replace each other's rows."""
    if not server_name or not port or port == DEFAULT_PORTS.get(engine):
        return server_name
    return f"{server_name}:{port}"
