"""Result batches → rows in destination tables, exactly once per (execution, database).

Order of effects for one batch: fence (is the attempt still current?) → write the rows (one
destination transaction: delete this database's rows for the execution, insert) → record
the result set → publish the outcome → acknowledge. A crash anywhere redelivers the batch,
and the replace makes the repeat harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.core.clients import CredentialRefusedError, CredentialResolver
from fleetjobs.core.crypto import scrub
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ResultSetRow
from fleetjobs.core.grpc import from_timestamp
from fleetjobs.core.logs import bind_context
from fleetjobs.core.messaging import Names, publish
from fleetjobs.core.sql import CanonicalType, decode_rows
from fleetjobs.events.v1 import events_pb2
from fleetjobs.results.db.result_sets import ResultSetRepository
from fleetjobs.results.destination import (
    DestinationError,
    DestinationWriter,
    build_destination_url,
)
from fleetjobs.v1 import catalog_resources_pb2 as resources

log = logging.getLogger(__name__)

TRANSIENT_RETRY_SECONDS = 2.0
# After this many deliveries a destination that keeps failing fails the child instead of
# holding it IN_PROGRESS forever.
MAX_DELIVERIES = 30
WRITER_THREADS = 8


class BatchWriter:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        credentials: CredentialResolver,
        js: JetStreamContext,
        names: Names,
        sqlite_root: Path,
    ) -> None:
        self._sessions = sessions
        self._credentials = credentials
        self._js = js
        self._names = names
        self._sqlite_root = sqlite_root
        self._pool = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="dest")
        # One engine (and connection pool) per destination and login, shared by batches.
        self._writers: dict[str, DestinationWriter] = {}
        self._engines: list[Engine] = []

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        await asyncio.gather(*(self._handle(message) for message in messages))

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
        for engine in self._engines:
            engine.dispose()

    async def _handle(self, message: Msg) -> None:
        batch = events_pb2.ResultBatch.FromString(message.data)
        with bind_context(
            job_execution_id=batch.job_execution_id,
            parent_job_execution_id=batch.parent_job_execution_id,
        ):
            try:
                await self._write(message, batch)
            except Exception:
                log.exception("result batch failed; redelivered later")
                await message.nak(delay=TRANSIENT_RETRY_SECONDS)

    async def _write(self, message: Msg, batch: events_pb2.ResultBatch) -> None:
        async with self._sessions() as session:
            current = await ResultSetRepository(session).attempt_is_current(
                batch.job_execution_id, batch.attempt
            )
        if not current:
            log.info("batch of a superseded attempt rejected", extra={"attempt": batch.attempt})
            await message.term()
            return
        destination = batch.destination
        secrets: list[str] = []
        try:
            writer = await self._writer_for(destination, secrets)
            columns = [(c.name, CanonicalType(c.type)) for c in batch.columns]
            rows = decode_rows(columns, batch.rows)
            written = await asyncio.get_running_loop().run_in_executor(
                self._pool,
                lambda: writer.write_result_set(
                    schema=destination.schema_name or None,
                    table=destination.table_name,
                    columns=columns,
                    rows=rows,
                    job_execution_id=batch.parent_job_execution_id,
                    target_engine=batch.engine,
                    target_server_name=batch.server_name,
                    target_database_name=batch.database_name,
                    collected_at=from_timestamp(batch.collected_at),
                ),
            )
        except (DestinationError, CredentialRefusedError, ValueError) as error:
            await self._finish(message, batch, ok=False, rows=0, text=scrub(str(error), secrets))
            return
        except DBAPIError as error:
            text = scrub(str(error.orig), secrets)
            if message.metadata.num_delivered >= MAX_DELIVERIES:
                await self._finish(
                    message,
                    batch,
                    ok=False,
                    rows=0,
                    text=f"the destination kept failing: {text}",
                )
                return
            log.warning("destination write failed; retrying", extra={"error": text})
            await message.nak(delay=TRANSIENT_RETRY_SECONDS)
            return
        async with self._sessions() as session:
            await ResultSetRepository(session).save(
                ResultSetRow(
                    job_execution_id=batch.job_execution_id,
                    parent_job_execution_id=batch.parent_job_execution_id,
                    attempt=batch.attempt,
                    engine=batch.engine,
                    server_name=batch.server_name,
                    database_name=batch.database_name,
                    destination={
                        "engine": destination.engine,
                        "server_name": destination.server_name,
                        "port": destination.port,
                        "database_name": destination.database_name,
                        "schema_name": destination.schema_name,
                        "table_name": destination.table_name,
                        "credential_name": destination.credential_name,
                    },
                    rows_written=written,
                    columns=[{"name": c.name, "type": c.type} for c in batch.columns],
                    create_time=utcnow(),
                )
            )
            await session.commit()
        await self._finish(message, batch, ok=True, rows=written, text="")

    async def _finish(
        self, message: Msg, batch: events_pb2.ResultBatch, *, ok: bool, rows: int, text: str
    ) -> None:
        if not ok:
            log.info("result set refused", extra={"error": text})
        await publish(
            self._js,
            self._names.result_outcomes,
            events_pb2.ResultOutcome(
                job_execution_id=batch.job_execution_id,
                attempt=batch.attempt,
                ok=ok,
                rows_written=rows,
                message=text,
            ),
            msg_id=f"outcome:{batch.job_execution_id}:{batch.attempt}",
        )
        await message.ack()

    async def _writer_for(
        self, destination: resources.ResultDestination, secrets: list[str]
    ) -> DestinationWriter:
        username = password = ""
        if destination.engine != "sqlite":
            if not destination.credential_name:
                raise CredentialRefusedError("the result destination names no credential")
            secret = await self._credentials.resolve(
                destination.credential_name, server_name=destination.server_name
            )
            username, password = secret.username, secret.password
            secrets.append(password)
        url = build_destination_url(
            destination.engine,
            destination.server_name,
            destination.port,
            destination.database_name,
            username,
            password,
            sqlite_root=self._sqlite_root,
        )
        key = hashlib.sha256(url.render_as_string(hide_password=False).encode()).hexdigest()
        writer = self._writers.get(key)
        if writer is None:
            # hide_parameters: result values never end up in a child's error message.
            engine = create_engine(
                url, pool_pre_ping=True, pool_size=WRITER_THREADS, hide_parameters=True
            )
            self._engines.append(engine)
            writer = DestinationWriter(engine)
            self._writers[key] = writer
        return writer
