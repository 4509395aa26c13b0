"""SQL helpers shared by the executor and the results service."""

from fleetjobs.core.sql._cells import decode_rows, encode_rows
from fleetjobs.core.sql._splitting import split_go_batches, split_sqlite_statements
from fleetjobs.core.sql._types import DEFAULT_PORTS, CanonicalType, server_label

__all__ = [
    "DEFAULT_PORTS",
    "CanonicalType",
    "decode_rows",
    "encode_rows",
    "server_label",
    "split_go_batches",
    "split_sqlite_statements",
]
