"""SQL helpers shared by the executor and the results service."""

from fleetjobs.core.sql._cells import decode_rows, encode_rows
from fleetjobs.core.sql._splitting import split_go_batches, split_sqlite_statements
from fleetjobs.core.sql._types import CanonicalType

__all__ = [
    "CanonicalType",
    "decode_rows",
    "encode_rows",
    "split_go_batches",
    "split_sqlite_statements",
]
