"""The target sessions of attempts, recorded so that a dead executor's statement can be
ended by whoever takes its attempt over (`connectors._sessions` says which servers need it).

Recording is best effort and off the attempt's path: the script does not wait for it, and an
executor that dies before the record commits leaves a session nobody knows about, which
then runs until it ends by itself, as every session did before.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import datetime

from fleetjobs.core.crypto import scrub
from fleetjobs.core.sql import server_label
from fleetjobs.executor.connectors import (
    Connector,
    DatabaseAddress,
    EndsOrphanedSessions,
    Login,
    ScriptError,
)
from fleetjobs.executor.db.group_commit import GroupCommit

log = logging.getLogger(__name__)


class OrphanedSessions:
    def __init__(self, writes: GroupCommit) -> None:
        self._writes = writes
        self._recording: set[asyncio.Task[None]] = set()

    def recorder(self, child_id: str, attempt: int) -> Callable[[str], None]:
        """The callback a connector reports its session to, from the script's thread."""
        loop = asyncio.get_running_loop()

        def record(session_id: str) -> None:
            loop.call_soon_threadsafe(self._start_recording, child_id, attempt, session_id)

        return record

    def _start_recording(self, child_id: str, attempt: int, session_id: str) -> None:
        task = asyncio.create_task(self._record(child_id, attempt, session_id))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def _record(self, child_id: str, attempt: int, session_id: str) -> None:
        try:
            await self._writes.run(
                lambda repository: repository.record_session(child_id, attempt, session_id)
            )
        except Exception as error:
            log.warning("the attempt's session was not recorded", extra={"error": repr(error)})

    async def end(
        self,
        connector: Connector,
        address: DatabaseAddress,
        login: Login | None,
        session_id: str,
        *,
        running_since: datetime | None,
        secrets: list[str],
    ) -> None:
        """Ends a dead executor's session before its attempt runs again (or ends), so the
        script never runs twice at once on one database. A failure only logs: the new
        attempt must not fail for a session that may be gone anyway."""
        if (
            not session_id
            or running_since is None
            or not isinstance(connector, EndsOrphanedSessions)
        ):
            return
        label = server_label(address.engine, address.server_name, address.port)
        try:
            ended = await asyncio.to_thread(
                functools.partial(
                    connector.end_orphaned_session,
                    address,
                    login,
                    session_id,
                    running_since=running_since,
                )
            )
        except ScriptError as error:
            log.warning(
                "could not end the session a lost executor left running",
                extra={"server": label, "session": session_id, "error": scrub(str(error), secrets)},
            )
            return
        if ended:
            log.info(
                "ended the session a lost executor left running",
                extra={"server": label, "session": session_id},
            )
