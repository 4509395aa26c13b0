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
