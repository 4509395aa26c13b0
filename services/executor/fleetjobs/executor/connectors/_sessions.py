"""Sessions a dead executor leaves running on its targets.

A MySQL or MariaDB server keeps running a statement whose client died (a lock wait, a long
UPDATE) until it finishes: it only notices the closed socket when it next writes to it.
(PostgreSQL is asked to check during the statement instead; see the postgresql module.) So
a connector whose server behaves so reports the session its script runs in, the executor
records it on the attempt, and whoever takes the attempt over from a dead executor ends that
session before it runs the script again, through `EndsOrphanedSessions`.

The report goes through a context variable, like the StopSignal, so connectors need no
extra parameter.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from fleetjobs.executor.connectors._base import DatabaseAddress, Login

attempt_session: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "fleetjobs_attempt_session", default=None
)


def report_session(session_id: str) -> None:
    """Called by a connector in the script's thread once it is connected. Never raises."""
    record = attempt_session.get()
    if record is not None:
        record(session_id)


@runtime_checkable
class EndsOrphanedSessions(Protocol):
    def end_orphaned_session(
        self,
        address: DatabaseAddress,
        login: Login | None,
        session_id: str,
        *,
        running_since: datetime,
    ) -> bool:
        """Ends the session `session_id`, in which a script has run since `running_since`,
        if it is still there: the server has not restarted since (ids start again then) and
        the session belongs to the same login and database. Returns whether one was ended.
        Raises ScriptError when the server cannot be asked."""
        ...
