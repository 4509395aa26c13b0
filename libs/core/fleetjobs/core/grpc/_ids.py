"""Checks of execution ids that internal RPCs receive in bulk."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fleetjobs.core.grpc._errors import invalid_argument

MAX_IDS_PER_CALL = 1000


def require_execution_ids(field: str, values: Sequence[str]) -> list[str]:
    """The ids, each a UUID, at most MAX_IDS_PER_CALL of them; INVALID_ARGUMENT otherwise."""
    if len(values) > MAX_IDS_PER_CALL:
        raise invalid_argument([(field, f"must hold at most {MAX_IDS_PER_CALL} ids")])
    for index, value in enumerate(values):
        try:
            uuid.UUID(value)
        except ValueError:
            raise invalid_argument(
                [(f"{field}[{index}]", "must be an execution id (a UUID)")]
            ) from None
    return list(values)
