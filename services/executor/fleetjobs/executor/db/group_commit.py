"""Group commit: the small writes of many concurrent attempts share one transaction.

Each attempt writes the control database two or three times (recorded, script done,
finished). One transaction each made the control database most of the executor's CPU; queued
here, every write that arrives while a transaction is committing rides in the next one. No
write waits for a timer: the first runs at once, the rest batch up behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.messaging import is_transient
from fleetjobs.executor.db.executions import ExecutorRepository

T = TypeVar("T")
Operation = Callable[[ExecutorRepository], Awaitable[Any]]

MAX_OPERATIONS_PER_TRANSACTION = 256
# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back
# whole and may run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
MAX_TRIES = 3


class GroupCommit:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._queue: list[tuple[Operation, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, operation: Callable[[ExecutorRepository], Awaitable[T]]) -> T:
        """Runs `operation` in the next transaction; returns its result once committed.
        When the control database fails that transaction, every operation in it raises the
        error; when one operation fails by itself, only it does."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_forever(), name="group-commit")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((operation, future))
        self._wake.set()
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _commit_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[:MAX_OPERATIONS_PER_TRANSACTION]
                del self._queue[: len(batch)]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Operation, asyncio.Future[Any]]]) -> None:
        results: list[tuple[asyncio.Future[Any], Any]] = []
        tries = 0
        while True:
            tries += 1
            results = []
            try:
                async with self._sessions() as session:
                    repository = ExecutorRepository(session)
                    for operation, future in batch:
                        results.append((future, await operation(repository)))
                    await session.commit()
                break
            except DBAPIError as error:
                # A deadlock (other transactions lock these rows too: the results service
                # holds children FOR SHARE while it commits rows) rolled everything back, so
                # the batch can simply run again; failing it would leave each of its tasks
                # to the broker's redelivery, an ack wait later.
                if _sqlstate(error) in RETRYABLE_SQLSTATES and tries < MAX_TRIES:
                    continue
                await self._fail_or_isolate(batch, error)
                return
            except Exception as error:
                await self._fail_or_isolate(batch, error)
                return
        for future, value in results:
            if not future.done():
                future.set_result(value)

    async def _fail_or_isolate(
        self, batch: list[tuple[Operation, asyncio.Future[Any]]], error: Exception
    ) -> None:
        """A fault of one operation itself (a bug, a value the database refuses) must not
        fail the others that merely shared its transaction, whose callers would end their
        work on it: everything was rolled back, so each runs again in a transaction of its
        own. The control database being away fails them all alike."""
        if len(batch) == 1 or is_transient(error):
            self._fail(batch, error)
            return
        for item in batch:
            await self._commit([item])

    @staticmethod
    def _fail(batch: list[tuple[Operation, asyncio.Future[Any]]], error: Exception) -> None:
        # All or nothing: after a failed statement PostgreSQL turns the COMMIT into a ROLLBACK
        # without an error, so no operation of this batch may report success. Every caller
        # gets the error and leaves its message to be redelivered.
        for _, future in batch:
            if not future.done():
                future.set_exception(error)


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)
