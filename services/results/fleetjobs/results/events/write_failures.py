"""What a failed write of result batches becomes: redelivered, or refused with a text that
holds no secret.

The control database, the broker or the catalog being away is worth a redelivery: the same
batch succeeds once they are back. A refusal fails the attempt with its reason. A fault no
redelivery cures (a bug, a value nothing expected) is refused too, by its type only: what an
unexpected exception says may hold secrets (`fleetjobs.core.logs._unexpected`); the log says
where it was raised.
"""

from __future__ import annotations

import logging

from fleetjobs.core.clients import CatalogUnavailableError
from fleetjobs.core.crypto import scrub
from fleetjobs.core.logs import log_unexpected, type_name
from fleetjobs.core.messaging import is_transient


class ControlDatabaseError(Exception):
    """Holding the fence or recording the result sets failed: the batch is redelivered."""


def worth_redelivery(error: BaseException) -> bool:
    """The control database, the broker or the catalog away, or a failure wrapped as the
    control database's: the same batch succeeds once they are back."""
    return is_transient(error, ControlDatabaseError, CatalogUnavailableError)


def refusal_text(error: BaseException, secrets: list[str]) -> str:
    """What a refused batch's outcome says about `error`. Never the text of a UnicodeError:
    it names the character that failed and its position, which for a password (the one
    thing here that an encoding can fail on) tells part of it."""
    if isinstance(error, UnicodeError):
        encoding = getattr(error, "encoding", "") or "an encoding"
        return (
            f"text could not be encoded ({type(error).__name__}, {encoding}); which text is "
            "not said, as it may be a password"
        )
    return scrub(str(error), secrets)


def internal_refusal(log: logging.Logger, error: BaseException) -> str:
    """Logs `error` by its type and where it was raised, and returns the refusal's text."""
    log_unexpected(log, "writing result batches failed inside fleetjobs", error)
    return (
        f"internal error in the results service ({type_name(error)}); "
        "its log says where it was raised"
    )
