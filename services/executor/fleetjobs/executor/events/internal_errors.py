"""An exception nobody expected, turned into an attempt's failure without its contents.

What such an exception says may hold the password (see `fleetjobs.core.logs._unexpected`): the
task records, and the log shows, its type and where it was raised, never what it says. The
class `internal` is never retried (`executor/domain/policy.py`).
"""

from __future__ import annotations

import logging

from fleetjobs.core.logs import log_unexpected, type_name
from fleetjobs.executor.connectors import ScriptError
from fleetjobs.executor.domain.policy import INTERNAL


def internal_failure(error: BaseException) -> ScriptError:
    """The attempt's failure for `error`: its type only."""
    return ScriptError(
        f"internal error in fleetjobs ({type_name(error)}); "
        "the executor's log says where it was raised",
        error_class=INTERNAL,
    )


def log_internal_failure(log: logging.Logger, error: BaseException) -> None:
    """Logs `error`'s type, the types chained to it and where each was raised, nothing more."""
    log_unexpected(log, "attempt failed inside fleetjobs", error)
