"""Task messages → numbered attempts on target databases.

One task message stands for "run the next attempt of this child". The attempt is recorded
in the control database before anything is sent to the target; every later write is fenced
on that number. Retries are the policy's, not the broker's: a failed attempt is recorded and
the message is nak'ed with the policy's delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from fleetjobs.core.clients import CatalogUnavailableError, CredentialResolver
from fleetjobs.core.crypto import scrub, scrub_all
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ChildExecutionRow, ExecutionSnapshotRow
from fleetjobs.core.grpc import to_timestamp
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.logs import bind_context
from fleetjobs.core.sql import encode_rows
from fleetjobs.events.v1 import events_pb2
from fleetjobs.executor.connectors import (
    MAX_ERROR_BYTES,
    Connector,
    DatabaseAddress,
    Login,
    ScriptError,
    ScriptOutcome,
    StopSignal,
    attempt_session,
    attempt_stop,
    bounded_text,
)
from fleetjobs.executor.db.executions import Begin, BeginOutcome
from fleetjobs.executor.db.group_commit import GroupCommit
from fleetjobs.executor.domain.policy import (
    JOB_TIMEOUT,
    AfterFailure,
    EffectivePolicy,
    decide_after_failure,
)
from fleetjobs.executor.events.credentials import login_for, refusal
from fleetjobs.executor.events.internal_errors import internal_failure, log_internal_failure
from fleetjobs.executor.events.orphaned_sessions import OrphanedSessions
from fleetjobs.executor.events.publisher import ExecutorPublisher
from fleetjobs.executor.events.server_slots import ServerSlots
from fleetjobs.executor.events.unhandled import end_task, worth_redelivery
from fleetjobs.v1 import catalog_resources_pb2 as resources

log = logging.getLogger(__name__)

# The broker redelivers a task whose holder said nothing for the ack wait
# (FLEETJOBS_TASK_ACK_WAIT); a running attempt says "in progress" three times per window, so
# only a dead or frozen executor loses it. An executor whose heartbeat is older than
# FLEETJOBS_WORKER_STALE_AFTER is presumed dead: its attempts are taken over by whoever
# receives their task next.
# Room left in a NATS message for the batch's envelope and headers.
PAYLOAD_HEADROOM = 16 * 1024


class TaskRunner:
    def __init__(
        self,
        *,
        writes: GroupCommit,
        connectors: dict[str, Connector],
        credentials: CredentialResolver,
        slots: ServerSlots,
        publisher: ExecutorPublisher,
        worker_id: str,
        concurrency: int,
        max_payload: int,
        keep_alive_seconds: float,
        worker_stale_seconds: float,
        ack_wait_seconds: float,
    ) -> None:
        self._writes = writes
        self._connectors = connectors
        self._credentials = credentials
        self._slots = slots
        self._publisher = publisher
        self._worker_id = worker_id
        self._concurrency = concurrency
        self._max_payload = max_payload
        self._keep_alive_seconds = keep_alive_seconds
        self._worker_stale_seconds = worker_stale_seconds
        self._ack_wait_seconds = ack_wait_seconds
        # Blocking drivers run here; sized to the concurrency so no attempt queues for a
        # thread (asyncio's default pool has only cores + 4).
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="attempt")
        self._running: set[asyncio.Task[None]] = set()
        # child id → (parent id, its stop signal), for the attempts running their script.
        self._running_attempts: dict[str, tuple[str, StopSignal]] = {}
        # Children whose attempt this executor is handling, from its start to its last write:
        # an attempt of ours that is not in here (its handling failed) may be taken over.
        self._handled: set[str] = set()
        # Children whose result batch went to the results service, awaiting its outcome
        # (child → when handed over). A duplicate delivery meanwhile must not re-run the
        # script; past twice the ack wait, maintenance decides whether the batch was lost.
        self._awaiting_outcome: dict[str, float] = {}
        self._orphans = OrphanedSessions(writes)

    def signals_of(self, parent_id: str) -> list[StopSignal]:
        """The stop signals of `parent_id`'s attempts running here."""
        return [signal for parent, signal in self._running_attempts.values() if parent == parent_id]

    def _handled_here(self, child_id: str) -> bool:
        handed_over = self._awaiting_outcome.get(child_id)
        awaiting = (
            handed_over is not None and time.monotonic() - handed_over < 2 * self._ack_wait_seconds
        )
        return child_id in self._handled or awaiting

    def outcome_arrived(self, child_id: str) -> None:
        self._awaiting_outcome.pop(child_id, None)

    def _forget_stale_hand_overs(self) -> None:
        horizon = time.monotonic() - 2 * self._ack_wait_seconds
        for child_id, handed_over in list(self._awaiting_outcome.items()):
            if handed_over < horizon:
                del self._awaiting_outcome[child_id]

    def handled(self) -> set[str]:
        """The children whose attempt this executor is handling now."""
        return set(self._handled)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def capacity(self) -> int:
        return self._concurrency - len(self._running)

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        for message in messages:
            task = asyncio.create_task(self._handle(message))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def drain(self) -> None:
        """Lets running attempts finish (graceful shutdown)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _handle(self, message: Msg) -> None:
        try:
            task = events_pb2.Task.FromString(message.data)
        except DecodeError:
            # It can never run; redelivering it forever would only fail again.
            log.error("undecodable task dropped")
            await message.term()
            return
        with bind_context(
            job_execution_id=task.job_execution_id,
            parent_job_execution_id=task.parent_job_execution_id,
        ):
            try:
                await self._run(message, task)
            except Exception as error:
                if not worth_redelivery(error):
                    await self._end_unhandled(message, task, error)
                    return
                # The control database or NATS failed under us: leave the task to come
                # back; the attempt, if one was recorded, is taken over then.
                log.exception("task handling failed; redelivered later")
                with contextlib.suppress(Exception):
                    await message.nak(delay=5.0)

    async def _end_unhandled(
        self, message: Msg, task: events_pb2.Task, error: BaseException
    ) -> None:
        """A fault no redelivery cures ends this child FAILED (`unhandled`); if even that
        cannot be written, the task comes back as after any other failure."""
        try:
            await end_task(self._writes, self._publisher, message, task, error)
        except Exception:
            log.warning("could not end an unhandled task; redelivered later", exc_info=False)
            with contextlib.suppress(Exception):
                await message.nak(delay=5.0)

    def _slot(self, task: events_pb2.Task) -> contextlib.AbstractAsyncContextManager[None]:
        # SQLite files are not servers: no connection cap to respect.
        if task.engine == "sqlite":
            return contextlib.nullcontext()
        return self._slots.hold(task.engine, task.server_name, task.port)

    async def _run(self, message: Msg, task: events_pb2.Task) -> None:
        # Alive from the start: a task may wait for a server slot longer than the ack wait.
        keep_alive = asyncio.create_task(self._keep_alive(message))
        try:
            await self._begin_and_run(message, task)
        finally:
            keep_alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keep_alive

    async def _begin_and_run(self, message: Msg, task: events_pb2.Task) -> None:
        secrets: list[str] = []
        outcome: ScriptOutcome | None = None
        failure: ScriptError | None = None
        # The attempt is recorded first (its writes ride in a group commit with the other
        # tasks'), then it waits for a server slot; the slot covers the connection and
        # nothing else, so a slot never waits on the control database.
        begin = await self._begin(task)
        if begin.kind is not Begin.RUN:
            await self._not_run(message, task, begin)
            return
        assert begin.child is not None and begin.snapshot is not None
        self._handled.add(task.job_execution_id)
        try:
            policy = EffectivePolicy.from_json(begin.snapshot.policy)
            signal = StopSignal(job_timeout_seconds=policy.job_timeout_ms / 1000)
            self._running_attempts[task.job_execution_id] = (task.parent_job_execution_id, signal)
            try:
                async with self._slot(task):
                    outcome = await self._attempt(begin, secrets, signal)
            except ScriptError as error:
                failure = error
            except CatalogUnavailableError as error:
                failure = ScriptError(str(error), error_class="connection_error")
            except Exception as error:
                # A fault of fleetjobs itself (a driver or connector bug): the attempt still
                # ends through the policy, never left IN_PROGRESS. Its type only: what the
                # exception says may hold the password (internal_errors).
                log_internal_failure(log, error)
                failure = internal_failure(error)
            finally:
                del self._running_attempts[task.job_execution_id]
            await self._finish_attempt(message, begin, outcome, failure, secrets)
        finally:
            self._handled.discard(task.job_execution_id)

    async def _finish_attempt(
        self,
        message: Msg,
        begin: BeginOutcome,
        outcome: ScriptOutcome | None,
        failure: ScriptError | None,
        secrets: list[str],
    ) -> None:
        assert begin.child is not None and begin.snapshot is not None
        child, snapshot, attempt = begin.child, begin.snapshot, begin.attempt
        try:
            if failure is None:
                assert outcome is not None
                await self._succeeded(
                    message,
                    child=child,
                    snapshot=snapshot,
                    attempt=attempt,
                    outcome=outcome,
                    secrets=secrets,
                )
                return
        except ScriptError as error:  # the hand-over to the results service failed
            failure = error
        await self._failed(
            message,
            child=child,
            snapshot=snapshot,
            attempt=attempt,
            error=failure,
            secrets=secrets,
        )

    async def _not_run(self, message: Msg, task: events_pb2.Task, begin: BeginOutcome) -> None:
        if begin.kind is Begin.DROP:
            log.debug("task dropped", extra={"reason": begin.reason})
            if begin.running_elsewhere:
                # This delivery may be the very message the live holder will ack or nak for
                # its retry: acking it here would delete it under the holder. Let it come
                # back later instead; once the child has ended, it is acked.
                await message.nak(delay=self._ack_wait_seconds)
            else:
                await message.ack()
            return
        if begin.kind is Begin.WAIT:
            await message.nak(delay=max(begin.wait.total_seconds(), 0.01))
            return
        # ENDED: stopped, or past the job timeout, before it ran (or while a dead executor
        # ran it: its statement is ended too).
        if begin.orphaned_session:
            await self._end_orphaned_session(begin)
        self._publisher.parent_changed(task.parent_job_execution_id)
        await message.ack()

    async def _end_orphaned_session(self, begin: BeginOutcome) -> None:
        assert begin.child is not None and begin.snapshot is not None
        secrets: list[str] = []
        try:
            connector, address, login = await self._target(begin.child, begin.snapshot, secrets)
        except (ScriptError, CatalogUnavailableError) as error:
            log.warning(
                "could not end the session a lost executor left running",
                extra={"error": scrub(str(error), secrets)},
            )
            return
        await self._orphans.end(
            connector,
            address,
            login,
            begin.orphaned_session,
            running_since=begin.orphaned_since,
            secrets=secrets,
        )

    async def _begin(self, task: events_pb2.Task) -> BeginOutcome:
        now = utcnow()
        return await self._writes.run(
            lambda repository: repository.begin_attempt(
                task.job_execution_id,
                worker_id=self._worker_id,
                now=now,
                worker_stale_before=now - timedelta(seconds=self._worker_stale_seconds),
                handled_here=self._handled_here(task.job_execution_id),
            )
        )

    async def _keep_alive(self, message: Msg) -> None:
        while True:
            await asyncio.sleep(self._keep_alive_seconds)
            with contextlib.suppress(Exception):
                await message.in_progress()

    async def _target(
        self, child: ChildExecutionRow, snapshot: ExecutionSnapshotRow, secrets: list[str]
    ) -> tuple[Connector, DatabaseAddress, Login | None]:
        """The child's connector, address and login. Raises ScriptError."""
        connector = self._connectors.get(child.engine)
        if connector is None:
            raise refusal(f"no connector for engine {child.engine!r}")
        availability = connector.availability()
        if not availability.available:
            raise refusal(f"the {child.engine} driver is not available here: {availability.detail}")
        address = DatabaseAddress(
            engine=child.engine,
            server_name=child.server_name,
            port=child.port,
            database_name=child.database_name,
            options=dict(child.options or {}),
        )
        login: Login | None = None
        if child.engine != "sqlite":
            login = await login_for(
                self._credentials,
                snapshot.credential_name,
                server_name=child.server_name,
                port=child.port,
                engine=child.engine,
            )
            secrets.append(login.password)
        return connector, address, login

    async def _attempt(
        self, begin: BeginOutcome, secrets: list[str], signal: StopSignal
    ) -> ScriptOutcome:
        child, snapshot = begin.child, begin.snapshot
        assert child is not None and snapshot is not None
        connector, address, login = await self._target(child, snapshot, secrets)
        await self._orphans.end(
            connector,
            address,
            login,
            begin.orphaned_session,
            running_since=begin.orphaned_since,
            secrets=secrets,
        )
        timeout = max((snapshot.deadline - utcnow()).total_seconds(), 1.0)
        loop = asyncio.get_running_loop()
        record_session = self._orphans.recorder(child.job_execution_id, begin.attempt)

        def run() -> ScriptOutcome:
            # In the fresh context this runs in, the connector's Deadline finds the signal,
            # and the connector its session recorder.
            attempt_stop.set(signal)
            attempt_session.set(record_session)
            return connector.run_script(
                address, login, snapshot.command_text, timeout_seconds=timeout
            )

        return await loop.run_in_executor(self._pool, contextvars.Context().run, run)

    async def _succeeded(
        self,
        message: Msg,
        *,
        child: ChildExecutionRow,
        snapshot: ExecutionSnapshotRow,
        attempt: int,
        outcome: ScriptOutcome,
        secrets: list[str],
    ) -> None:
        # Informational output can echo a connection string: scrubbed like error messages.
        outcome.messages = scrub_all(outcome.messages, secrets)
        result = outcome.first_result_set
        rows = len(result.rows) if result is not None else 0
        if snapshot.result_destination and result is not None:
            batch = events_pb2.ResultBatch(
                job_execution_id=child.job_execution_id,
                parent_job_execution_id=child.parent_job_execution_id,
                attempt=attempt,
                engine=child.engine,
                server_name=child.server_name,
                port=child.port,
                database_name=child.database_name,
                destination=resources.ResultDestination(**snapshot.result_destination),
                columns=[events_pb2.Column(name=c.name, type=c.type.value) for c in result.columns],
                rows=encode_rows([(c.name, c.type) for c in result.columns], result.rows),
                collected_at=to_timestamp(utcnow()),
                messages=outcome.messages,
            )
            size = batch.ByteSize()
            if size > self._max_payload - PAYLOAD_HEADROOM:
                raise ScriptError(
                    f"the first result set is {size} bytes, more than the broker's maximum "
                    f"message size of {self._max_payload} bytes allows: return fewer rows",
                    error_class="result_too_large",
                    refused=True,
                    messages=outcome.messages,
                )
            # No write here: the results service fences the batch, and its outcome ends the
            # attempt in one write, with these messages echoed back.
            self._forget_stale_hand_overs()
            self._awaiting_outcome[child.job_execution_id] = time.monotonic()
            try:
                await self._publisher.result_batch(batch)
            except Exception as error:
                raise ScriptError(
                    f"could not hand the result set to the results service: {error!r}",
                    error_class="broker_unavailable",
                    messages=outcome.messages,
                ) from None
            await message.ack()
            return
        current = await self._writes.run(
            lambda repository: repository.record_success(
                child.job_execution_id,
                attempt,
                rows=rows,
                messages=outcome.messages,
                now=utcnow(),
            )
        )
        if not current:
            # Fenced: this attempt was taken over (a stalled executor) and changed nothing;
            # the message is its new owner's to acknowledge.
            log.info("late write from a superseded attempt rejected", extra={"attempt": attempt})
            return
        self._publisher.parent_changed(child.parent_job_execution_id)
        await message.ack()

    async def _failed(
        self,
        message: Msg,
        *,
        child: ChildExecutionRow,
        snapshot: ExecutionSnapshotRow,
        attempt: int,
        error: ScriptError,
        secrets: list[str],
    ) -> None:
        now = utcnow()
        policy = EffectivePolicy.from_json(snapshot.policy)
        decision = decide_after_failure(
            policy,
            attempt=attempt,
            error_class=error.error_class,
            refused=error.refused,
            now=now,
            deadline=snapshot.deadline,
        )
        lifecycle = {
            AfterFailure.RETRY: Lifecycle.WAITING_FOR_RETRY,
            AfterFailure.FAIL: Lifecycle.FAILED,
            AfterFailure.TIME_OUT: Lifecycle.TIMED_OUT,
        }[decision.action]
        text = bounded_text(scrub(error.message, secrets), MAX_ERROR_BYTES)
        log.info(
            "attempt failed",
            extra={"attempt": attempt, "error_class": error.error_class, "next": lifecycle.value},
        )
        ended = await self._writes.run(
            lambda repository: repository.record_failure(
                child.job_execution_id,
                attempt,
                child_lifecycle=lifecycle,
                message=text,
                error_class=error.error_class,
                messages=scrub_all(error.messages, secrets),
                retry_at=decision.retry_at,
                now=now,
                # Cut short by the job's deadline, the attempt itself timed out.
                attempt_lifecycle=(
                    Lifecycle.TIMED_OUT if error.error_class == JOB_TIMEOUT else Lifecycle.FAILED
                ),
            )
        )
        if ended is None:
            # Fenced: this attempt was taken over; its owner now decides about the message.
            log.info("late write from a superseded attempt rejected", extra={"attempt": attempt})
            return
        self._publisher.parent_changed(child.parent_job_execution_id)
        # A stopped execution overrides the policy's decision (record_failure saw the stop).
        if ended is Lifecycle.WAITING_FOR_RETRY and decision.retry_at is not None:
            await message.nak(delay=_seconds_until(decision.retry_at, now))
        else:
            await message.ack()


def _seconds_until(when: datetime, now: datetime) -> float:
    return max((when - now).total_seconds(), 0.001)
