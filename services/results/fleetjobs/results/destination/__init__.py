"""Destination tables: created from the first result set's columns plus metadata columns
naming the execution and the database, and filled by replacing each database's rows for an
execution in one transaction, so retries and redeliveries never duplicate rows."""

from fleetjobs.results.destination._errors import (
    DestinationError,
    DestinationRefusedError,
    ResultSetMismatchError,
)
from fleetjobs.results.destination._names import METADATA_COLUMNS, validate_identifier
from fleetjobs.results.destination._types import SUPPORTED_ENGINES, destination_type
from fleetjobs.results.destination._urls import build_destination_url, destination_connect_args
from fleetjobs.results.destination._writer import (
    CommitGate,
    DestinationWriter,
    GateHold,
    ResultSetItem,
    WriteResult,
)

__all__ = [
    "METADATA_COLUMNS",
    "SUPPORTED_ENGINES",
    "CommitGate",
    "DestinationError",
    "DestinationRefusedError",
    "DestinationWriter",
    "GateHold",
    "ResultSetItem",
    "ResultSetMismatchError",
    "WriteResult",
    "build_destination_url",
    "destination_connect_args",
    "destination_type",
    "validate_identifier",
]
