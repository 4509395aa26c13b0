"""Which errors out of a message handler are worth a redelivery.

A handler that fails because the broker or the control database is away must leave its
message to come back: the same message succeeds once they return (the fault tests restart
both mid-run). Any other error is a fault of this message's own data or of fleetjobs itself,
and would fail the same way on every redelivery, forever: that message's work ends, visibly,
and the consumer goes on with the others.
"""

from __future__ import annotations

from nats import errors as nats_errors
from nats.js import errors as js_errors
from sqlalchemy import exc as sa_errors

# Errors of the database about one statement itself, not about its reachability: the values
# it carries, or SQL the server cannot run (a bug, the same on every redelivery).
_STATEMENT_ERRORS = (
    sa_errors.DataError,
    sa_errors.IntegrityError,
    sa_errors.ProgrammingError,
    sa_errors.NotSupportedError,
)
# How far down __cause__/__context__ a wrapped connection fault is looked for.
_MAX_CHAIN = 16


def is_transient(error: BaseException, *also: type[BaseException]) -> bool:
    """True when `error` says a service the handler needs is unavailable for now: the
    broker, the control database (or, by `also`, another service's own unavailable error).

    Also true when the error merely follows from a lost connection: a session or connection
    whose transaction a dropped connection aborted (PendingRollbackError), a connection
    closed under the handler (ResourceClosedError), a pool timeout or a disconnect; or when
    its __cause__/__context__ chain holds a connection fault (an OSError, or a DBAPIError
    that invalidated its connection). A redelivery runs with a fresh session.
    """
    if also and isinstance(error, also):
        return True
    if isinstance(error, OSError | nats_errors.Error | js_errors.Error):
        return True  # sockets, timeouts, NATS requests and JetStream API calls
    if isinstance(error, sa_errors.DBAPIError):
        return bool(error.connection_invalidated) or not isinstance(error, _STATEMENT_ERRORS)
    if isinstance(
        error,
        sa_errors.DisconnectionError | sa_errors.TimeoutError | sa_errors.PendingRollbackError,
    ):
        return True
    if isinstance(error, sa_errors.ResourceClosedError) and not _closed_result(error):
        return True  # "This Connection is closed", "This transaction is closed"
    return _lost_connection_in_chain(error)


def _closed_result(error: sa_errors.ResourceClosedError) -> bool:
    # "This result object is closed." / "... does not return rows": a result read after it
    # ended, or a statement read as a query; the code's fault, the same on every redelivery.
    return str(error).startswith("This result object")


def _lost_connection_in_chain(error: BaseException) -> bool:
    seen = {id(error)}
    link = _next_link(error)
    while link is not None and len(seen) < _MAX_CHAIN and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OSError | sa_errors.DisconnectionError):
            return True
        if isinstance(link, sa_errors.DBAPIError) and link.connection_invalidated:
            return True
        link = _next_link(link)
    return False


def _next_link(error: BaseException) -> BaseException | None:
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__
