"""Result batches → rows in destination tables, exactly once per (execution, database).

Order of effects for one batch: fence (is the attempt still current, its execution not
stopped?) → write the rows (one destination transaction: delete this database's rows for
the execution, insert) → in a control database transaction, record the result set and check
the fence again, holding it → commit the destination transaction → commit the control one →
publish the outcome → acknowledge. A crash anywhere redelivers the batch, and the replace
makes the repeat harmless.

The fence is held across the destination commit because a stop (ADR 4) may land at any
time: on PostgreSQL the second check reads the parent and child rows FOR SHARE, on SQLite
it runs after the record's write took the write lock, so the scheduler's stop (or the
executor's next attempt) waits until both commits are done. A stop thus lands either before
(the rows are rolled back and the batch refused as stopped) or after them: no result row is
written after the stop. A control commit that fails after the destination commit
redelivers the batch; its rows are replaced by the same rows.

The batches of one fetch share that work: one query fences them all; those going to the
same destination table are written together (`DestinationWriter.write_result_sets`: one
transaction per column signature, a batch that fails alone failing alone), and each such
transaction has one control transaction. Each batch still gets its own outcome and
acknowledgement, only after its rows and its record are committed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.clients import (
    CredentialRefusedError,
    CredentialResolver,
)
from fleetjobs.core.crypto import scrub
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ResultSetRow
from fleetjobs.core.grpc import from_timestamp, message_to_json
from fleetjobs.core.logs import bind_context
from fleetjobs.core.messaging import Names, publish
from fleetjobs.core.sql import CanonicalType, decode_rows, server_label
from fleetjobs.events.v1 import events_pb2
from fleetjobs.results.db.result_sets import ResultSetRepository
from fleetjobs.results.destination import (
    DestinationError,
    DestinationWriter,
    GateHold,
    ResultSetItem,
    WriteResult,
    build_destination_url,
    destination_connect_args,
)
from fleetjobs.results.events.write_failures import (
    ControlDatabaseError,
    internal_refusal,
    refusal_text,
    worth_redelivery,
)
from fleetjobs.v1 import catalog_resources_pb2 as resources

log = logging.getLogger(__name__)

TRANSIENT_RETRY_SECONDS = 2.0
# After this many deliveries a destination that keeps failing fails the child instead of
# holding it IN_PROGRESS forever.
MAX_DELIVERIES = 30
WRITER_THREADS = 8
# How long a destination's resolved credential (and the allow-list check that came with it)
# is reused before asking again: a rotated password or a narrowed allow-list takes effect
# within this time, and a fleet's batches do not decrypt the password once each.
CREDENTIAL_REUSE_SECONDS = 3.0
# How long a writer thread waits for the event loop to hold or release the fence (a lock
# wait on the control database included) before it rolls its transaction back.
FENCE_WAIT_SECONDS = 60.0
# How much longer a writer thread waits than the loop's own deadline for the same work.
LOOP_WAIT_MARGIN_SECONDS = 10.0

_T = TypeVar("_T")
# Sessions of holds that came too late, being closed (a task needs a reference to live).
_CLOSING: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class CommitSeams:
    """Test seams: coroutines awaited on the event loop inside the two windows of a
    destination transaction that the fence guards, given the child ids of its batches."""

    # Its rows are written, not committed; the fence is not checked again yet.
    rows_written: Callable[[list[str]], Awaitable[None]] | None = None
    # The fence is checked again and held; the rows are not committed yet.
    fence_held: Callable[[list[str]], Awaitable[None]] | None = None


class _ExecutionStoppedError(Exception):
    """The batch's execution was stopped: a failed outcome ends the child."""


class _AttemptSupersededError(Exception):
    """The batch's attempt is no longer its child's current one: it is dropped."""


@dataclass(eq=False)
class _Pending:
    """One fetched batch and what became of it."""

    message: Msg
    batch: events_pb2.ResultBatch
    rows_written: int | None = None  # set when the rows are committed
    refusal: str | None = None  # set when the batch fails for good (a failed outcome)
    retry: bool = False  # set when the batch is to be redelivered
    superseded: bool = False  # set when the batch's attempt is no longer current (dropped)

    def context(self) -> dict[str, str]:
        return {
            "job_execution_id": self.batch.job_execution_id,
            "parent_job_execution_id": self.batch.parent_job_execution_id,
        }


@dataclass
class _Destination:
    """An engine (and its connection pool) for one destination and login, and its writer,
    which remembers the tables it has checked."""

    engine: Engine
    writer: DestinationWriter


@dataclass
class _Resolved:
    """A destination address's login, resolved at most every CREDENTIAL_REUSE_SECONDS."""

    expires: float
    url_key: str
    secrets: list[str] = field(default_factory=list)


class BatchWriter:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        credentials: CredentialResolver,
        js: JetStreamContext,
        names: Names,
        sqlite_root: Path,
        seams: CommitSeams | None = None,
    ) -> None:
        self._sessions = sessions
        self._seams = seams or CommitSeams()
        self._credentials = credentials
        self._js = js
        self._names = names
        self._sqlite_root = sqlite_root
        self._pool = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="dest")
        # One engine (and connection pool) per destination and login, shared by batches.
        self._destinations: dict[str, _Destination] = {}
        self._resolved: dict[tuple[str, str, int, str, str], _Resolved] = {}

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        pending: list[_Pending] = []
        for message in messages:
            try:
                pending.append(_Pending(message, events_pb2.ResultBatch.FromString(message.data)))
            except DecodeError:
                # It can never be written; redelivering it would only fail again.
                log.error("undecodable result batch dropped")
                await message.term()
        if not pending:
            return
        try:
            live = await self._fence(pending)
        except Exception:
            log.exception("fencing result batches failed; redelivered later")
            await asyncio.gather(*(self._nak(item) for item in pending))
            return

        groups: dict[bytes, list[_Pending]] = {}
        for item in live:
            key = item.batch.destination.SerializeToString(deterministic=True)
            groups.setdefault(key, []).append(item)
        await asyncio.gather(*(self._write_group(group) for group in groups.values()))
        await asyncio.gather(*(self._finish(item) for item in pending))

    async def close(self) -> None:
        # Off the event loop: a writer thread may still need the loop to release its fence.
        await asyncio.to_thread(self._pool.shutdown, wait=True)
        for destination in self._destinations.values():
            destination.engine.dispose()

    async def _fence(self, pending: list[_Pending]) -> list[_Pending]:
        """Settles the batches of attempts that are no longer current (a stalled worker's
        result, redelivered after a retry started) or of stopped executions, and returns the
        others. Checked again, and held, before their rows commit (`_FenceGate`); this first
        check spares writing rows that would be rolled back."""
        async with self._sessions() as session:
            current = await ResultSetRepository(session).current_attempts(
                (item.batch.job_execution_id, item.batch.attempt) for item in pending
            )
        live: list[_Pending] = []
        for item in pending:
            error = _fenced_out(item, current)
            if error is None:
                live.append(item)
            else:
                _settle_fenced_out(item, error)
        return live

    async def _write_group(self, group: list[_Pending]) -> None:
        """Writes batches going to the same destination table; sets each one's fate."""
        destination = group[0].batch.destination
        secrets: list[str] = []
        gate = _FenceGate(
            sessions=self._sessions,
            seams=self._seams,
            loop=asyncio.get_running_loop(),
            group=group,
        )
        try:
            writer, secrets = await self._writer_for(destination)
            results = await asyncio.get_running_loop().run_in_executor(
                self._pool, _write_rows, writer, destination, gate
            )
        except (DestinationError, CredentialRefusedError, ValueError) as error:
            text = refusal_text(error, secrets)
            for item in group:
                item.refusal = text
            return
        except Exception as error:
            if not worth_redelivery(error):
                # A fault no redelivery cures: the attempts end, saying so, instead of their
                # batches coming back forever. Its type only: what it says may hold secrets.
                refusal = internal_refusal(log, error)
                for item in group:
                    item.refusal = refusal
                return
            log.exception("writing result batches failed; redelivered later")
            for item in group:
                item.retry = True
            return
        for item, result in zip(group, results, strict=True):
            with bind_context(**item.context()):
                self._settle(item, result, secrets)

    def _settle(self, item: _Pending, result: WriteResult, secrets: list[str]) -> None:
        error = result.error
        if error is None:
            item.rows_written = result.rows_written
        elif isinstance(error, _ExecutionStoppedError | _AttemptSupersededError):
            _settle_fenced_out(item, error)
        elif isinstance(error, ControlDatabaseError):
            # Its rows may be committed already; the redelivery replaces them.
            log.warning("result batch not recorded; redelivered later", exc_info=error)
            item.retry = True
        elif isinstance(error, DestinationError | CredentialRefusedError | ValueError):
            item.refusal = refusal_text(error, secrets)
        elif isinstance(error, DBAPIError):
            text = scrub(str(error.orig), secrets)
            if item.message.metadata.num_delivered >= MAX_DELIVERIES:
                item.refusal = f"the destination kept failing: {text}"
            else:
                log.warning("destination write failed; retrying", extra={"error": text})
                item.retry = True
        elif worth_redelivery(error):
            log.error("result batch failed; redelivered later", exc_info=error)
            item.retry = True
        else:
            item.refusal = internal_refusal(log, error)

    async def _finish(self, item: _Pending) -> None:
        with bind_context(**item.context()):
            if item.superseded:
                log.info(
                    "batch of a superseded attempt rejected", extra={"attempt": item.batch.attempt}
                )
                try:
                    await item.message.term()
                except Exception:
                    # Redelivered after the ack wait, and rejected again.
                    log.warning("could not terminate a result batch", exc_info=True)
                return
            if item.retry or (item.rows_written is None and item.refusal is None):
                await self._nak(item)
                return
            ok = item.refusal is None
            if not ok:
                log.info("result set refused", extra={"error": item.refusal})
            try:
                await publish(
                    self._js,
                    self._names.result_outcomes,
                    events_pb2.ResultOutcome(
                        job_execution_id=item.batch.job_execution_id,
                        attempt=item.batch.attempt,
                        ok=ok,
                        rows_written=item.rows_written or 0,
                        message=item.refusal or "",
                        # Echoed, so the executor ends the attempt in one write.
                        parent_job_execution_id=item.batch.parent_job_execution_id,
                        messages=list(item.batch.messages),
                        rows_collected=len(item.batch.rows),
                    ),
                    msg_id=f"outcome:{item.batch.job_execution_id}:{item.batch.attempt}",
                )
                await item.message.ack()
            except Exception:
                log.exception("publishing a result outcome failed; redelivered later")
                await self._nak(item)

    async def _nak(self, item: _Pending) -> None:
        try:
            await item.message.nak(delay=TRANSIENT_RETRY_SECONDS)
        except Exception:
            # The broker redelivers it after the ack wait anyway.
            log.warning("could not nak a result batch", exc_info=True)

    async def _writer_for(
        self, destination: resources.ResultDestination
    ) -> tuple[DestinationWriter, list[str]]:
        """The writer for a destination, and the secrets to scrub from its errors. The login
        is resolved (and the password decrypted) at most every CREDENTIAL_REUSE_SECONDS per
        destination address and credential."""
        address = (
            destination.engine,
            destination.server_name,
            destination.port,
            destination.database_name,
            destination.credential_name,
        )
        now = time.monotonic()
        resolved = self._resolved.get(address)
        if resolved is not None and resolved.expires > now:
            return self._destinations[resolved.url_key].writer, resolved.secrets
        username = password = ""
        secrets: list[str] = []
        if destination.engine != "sqlite":
            if not destination.credential_name:
                raise CredentialRefusedError("the result destination names no credential")
            secret = await self._credentials.resolve(
                destination.credential_name,
                server_name=destination.server_name,
                port=destination.port,
                engine=destination.engine,
            )
            username, password = secret.username, secret.password
            secrets.append(password)
        # MySQL's password is sent through these, never the URL (any URL repr stays clean).
        connect_args = destination_connect_args(destination.engine, password)
        url = build_destination_url(
            destination.engine,
            destination.server_name,
            destination.port,
            destination.database_name,
            username,
            password,
            sqlite_root=self._sqlite_root,
        )
        # The password is part of the key (a rotated one gets a new pool), whether or not the
        # URL holds it; surrogatepass, so that no password makes the key itself fail.
        login = "\x00".join([url.render_as_string(hide_password=False), password])
        key = hashlib.sha256(login.encode("utf-8", "surrogatepass")).hexdigest()
        known = self._destinations.get(key)
        if known is None:
            # hide_parameters: result values never end up in a child's error message.
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=WRITER_THREADS,
                hide_parameters=True,
                connect_args=connect_args,
            )
            known = _Destination(engine=engine, writer=DestinationWriter(engine))
            self._destinations[key] = known
        self._resolved[address] = _Resolved(
            expires=time.monotonic() + CREDENTIAL_REUSE_SECONDS, url_key=key, secrets=secrets
        )
        if resolved is not None and resolved.url_key != key:
            self._retire(resolved.url_key)
        return known.writer, secrets

    def _retire(self, url_key: str) -> None:
        """Closes the pool of a login no address uses any more (the password was rotated);
        connections still writing finish first and are closed when they are returned."""
        if any(resolved.url_key == url_key for resolved in self._resolved.values()):
            return
        retired = self._destinations.pop(url_key, None)
        if retired is not None:
            retired.engine.dispose()


class _FenceGate:
    """The fence of a group of batches, checked again inside each of their destination
    transactions and held until it commits (a `CommitGate`). Its methods are called in a
    writer thread and do their work on the event loop, where the control database's
    sessions live."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        seams: CommitSeams,
        loop: asyncio.AbstractEventLoop,
        group: list[_Pending],
    ) -> None:
        self._sessions = sessions
        self._seams = seams
        self._loop = loop
        self._group = group

    @property
    def batches(self) -> list[events_pb2.ResultBatch]:
        return [item.batch for item in self._group]

    def narrowed(self, positions: Sequence[int]) -> _FenceGate:
        """The gate for some of the batches, numbered by their order in `positions`."""
        return _FenceGate(
            sessions=self._sessions,
            seams=self._seams,
            loop=self._loop,
            group=[self._group[position] for position in positions],
        )

    def hold(self, written: Mapping[int, int]) -> GateHold:
        entries = [(position, self._group[position], rows) for position, rows in written.items()]
        return _on_loop(self._loop, self._hold_in_time(entries), on_late=_HeldFence.close_soon)

    async def _hold_in_time(self, entries: list[tuple[int, _Pending, int]]) -> _HeldFence:
        # The deadline is kept here, on the loop, so that a hold that took too long closes its
        # own session; the writer thread waits a little longer than this.
        try:
            async with asyncio.timeout(FENCE_WAIT_SECONDS):
                return await self._hold(entries)
        except TimeoutError as error:
            raise ControlDatabaseError(
                f"the fence was not held within {FENCE_WAIT_SECONDS} s"
            ) from error

    async def _hold(self, entries: list[tuple[int, _Pending, int]]) -> _HeldFence:
        children = [item.batch.job_execution_id for _, item, _ in entries]
        if self._seams.rows_written is not None:
            await self._seams.rows_written(children)
        session = self._sessions()
        held = False
        try:
            repository = ResultSetRepository(session)
            # The records first: on SQLite this write takes the write lock, so the fence read
            # after it sees the last commit and no stop can commit until this one does.
            await repository.save_all([_record_of(item, rows) for _, item, rows in entries])
            current = await repository.current_attempts(
                ((item.batch.job_execution_id, item.batch.attempt) for _, item, _ in entries),
                hold=True,
            )
            refused: dict[int, Exception] = {}
            for position, item, _ in entries:
                error = _fenced_out(item, current)
                if error is not None:
                    refused[position] = error
            if refused:
                # The records go with the rollback; the destination rolls back too.
                return _HeldFence(self._loop, None, refused)
            if self._seams.fence_held is not None:
                await self._seams.fence_held(children)
            held = True
            return _HeldFence(self._loop, session, {})
        except Exception as error:
            raise ControlDatabaseError(f"holding the fence failed: {error!r}") from error
        finally:
            if not held:
                await session.close()


class _HeldFence:
    """A control transaction holding the fence (and the result-set records) of one
    destination transaction: committed after it, or rolled back (a `GateHold`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        session: AsyncSession | None,
        refused: Mapping[int, Exception],
    ) -> None:
        self._loop = loop
        self._session = session
        self._refused = refused

    @property
    def refused(self) -> Mapping[int, Exception]:
        return self._refused

    def committed(self) -> None:
        if self._session is not None:
            _on_loop(self._loop, self._commit(self._session))

    def close_soon(self) -> None:
        """Rolls the control transaction back without waiting; from any thread, the event
        loop's own included (where `abandoned` would wait for itself)."""
        session = self._session
        if session is None:
            return

        def close() -> None:
            task = self._loop.create_task(session.close())
            _CLOSING.add(task)
            task.add_done_callback(_CLOSING.discard)

        self._loop.call_soon_threadsafe(close)

    def abandoned(self) -> None:
        if self._session is None:
            return
        try:
            _on_loop(self._loop, self._session.close())
        except Exception:
            # The connection goes back to the pool, or is discarded, either way rolled back.
            log.warning("could not release the fence", exc_info=True)

    @staticmethod
    async def _commit(session: AsyncSession) -> None:
        try:
            await session.commit()
        except Exception as error:
            raise ControlDatabaseError(f"recording the result sets failed: {error!r}") from error
        finally:
            await session.close()


def _on_loop(
    loop: asyncio.AbstractEventLoop,
    coroutine: Coroutine[Any, Any, _T],
    *,
    on_late: Callable[[_T], object] | None = None,
) -> _T:
    """Runs a coroutine on the event loop from a writer thread and waits for its result.
    `on_late` disposes of a result that arrives after this thread gave up waiting (an open
    control transaction must not be left to the garbage collector)."""
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    try:
        return future.result(timeout=FENCE_WAIT_SECONDS + LOOP_WAIT_MARGIN_SECONDS)
    except TimeoutError as error:
        if not future.cancel() and on_late is not None:
            dispose = on_late

            def late(done: concurrent.futures.Future[_T]) -> None:
                if not done.cancelled() and done.exception() is None:
                    dispose(done.result())

            future.add_done_callback(late)
        raise ControlDatabaseError(
            f"the fence did not answer within {FENCE_WAIT_SECONDS} s"
        ) from error


def _fenced_out(item: _Pending, current: Mapping[tuple[str, int], str | None]) -> Exception | None:
    """Why the fence refuses the batch, or None when its rows may be written."""
    key = (item.batch.job_execution_id, item.batch.attempt)
    if key not in current:
        return _AttemptSupersededError()
    stop = current[key]
    if stop is not None:
        return _ExecutionStoppedError(
            f"the execution was stopped ({stop}); its rows were not written"
        )
    return None


def _settle_fenced_out(item: _Pending, error: Exception) -> None:
    if isinstance(error, _AttemptSupersededError):
        item.superseded = True
    else:
        # The failed outcome lets the executor end the child with the stop's lifecycle.
        item.refusal = str(error)


def _write_rows(
    writer: DestinationWriter,
    destination: resources.ResultDestination,
    gate: _FenceGate,
) -> list[WriteResult]:
    """Decodes the batches' rows and writes them (in a worker thread: both block), the gate
    holding their fence across each commit. A batch whose rows cannot be decoded fails
    alone."""
    batches = gate.batches
    results: dict[int, WriteResult] = {}
    items: list[tuple[int, ResultSetItem]] = []
    for index, batch in enumerate(batches):
        try:
            columns = [(column.name, CanonicalType(column.type)) for column in batch.columns]
            rows = decode_rows(columns, batch.rows)
        except ValueError as error:
            results[index] = WriteResult(error=error)
            continue
        items.append(
            (
                index,
                ResultSetItem(
                    columns=columns,
                    rows=rows,
                    job_execution_id=batch.parent_job_execution_id,
                    target_engine=batch.engine,
                    target_server_name=server_label(batch.engine, batch.server_name, batch.port),
                    target_database_name=batch.database_name,
                    collected_at=from_timestamp(batch.collected_at),
                ),
            )
        )
    if items:
        written = writer.write_result_sets(
            schema=destination.schema_name or None,
            table=destination.table_name,
            items=[item for _, item in items],
            gate=gate.narrowed([index for index, _ in items]),
        )
        results.update((index, result) for (index, _), result in zip(items, written, strict=True))
    return [results[index] for index in range(len(batches))]


def _record_of(item: _Pending, rows_written: int) -> ResultSetRow:
    batch = item.batch
    destination = batch.destination
    return ResultSetRow(
        job_execution_id=batch.job_execution_id,
        parent_job_execution_id=batch.parent_job_execution_id,
        attempt=batch.attempt,
        engine=batch.engine,
        server_name=batch.server_name,
        database_name=batch.database_name,
        destination=message_to_json(destination),
        rows_written=rows_written,
        columns=[{"name": c.name, "type": c.type} for c in batch.columns],
        create_time=utcnow(),
    )
