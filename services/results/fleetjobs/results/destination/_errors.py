"""What the destination writer raises on purpose (database errors pass through unchanged)."""

from __future__ import annotations


class DestinationError(Exception):
    """Base class of the destination's own errors. Both subclasses are permanent: the same
    result set written again to the same destination fails the same way, so the child fails
    at once instead of being retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DestinationRefusedError(DestinationError):
    """fleetjobs refuses the destination itself: an invalid table or schema name, a SQLite
    path outside the root, an engine with no destination driver, a schema that is missing."""


class ResultSetMismatchError(DestinationError):
    """The result set does not fit the destination: an existing table lacks a column or has
    one of an incompatible type, or the result set's own column names cannot be used."""
