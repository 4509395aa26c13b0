"""A stop that lands while a result batch is being written (ADR 4): no result row is written
after the stop. Real nats-server, control database (PostgreSQL, and SQLite for the first
case), a catalog serving the destination's credential, and a PostgreSQL destination on the
same server as the PostgreSQL control database.

The races are held open by the writer's `CommitSeams`: a stop recorded after the rows are
written but before they commit rolls them back and refuses the batch as stopped; a stop
recorded once the fence is held waits until the rows and their record are committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from fleetjobs.catalog.app import build_catalog
from fleetjobs.core.clients import CatalogClient, CredentialResolver
from fleetjobs.core.crypto import KeyStore
from fleetjobs.core.db import make_async_engine, make_session_factory, utcnow
from fleetjobs.core.db.models import ParentExecutionRow, ResultSetRow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.sql import CanonicalType, encode_rows
from fleetjobs.events.v1 import events_pb2
from fleetjobs.results.events.batch_writer import BatchWriter, CommitSeams
from fleetjobs.testing import _api as api
from fleetjobs.testing._control_rows import child_row, set_current_attempt
from fleetjobs.testing._nats import NatsProcess
from fleetjobs.testing._result_batches import result_batch_bus
from fleetjobs.testing._services import ServiceThread
from fleetjobs.testing.fixtures import make_settings
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2_grpc

pytestmark = pytest.mark.postgres

COLUMNS = [("n", CanonicalType.INTEGER), ("label", CanonicalType.TEXT)]
HOST = "127.0.0.1"
LOCK_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Catalog:
    address: str
    keys_dir: Path
    credential: str


@pytest.fixture(scope="module")
def catalog(
    postgres_control_db: str, nats_server: NatsProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalog]:
    """A catalog holding a credential for the local PostgreSQL (which trusts every login)."""
    settings = make_settings(
        state_dir=tmp_path_factory.mktemp("catalog"),
        control_db_url=postgres_control_db,
        nats_url=nats_server.url,
    )
    KeyStore.ensure(settings.keys_dir)
    service = ServiceThread("catalog", build_catalog, settings)
    service.start()
    channel = grpc.insecure_channel(service.address)
    try:
        stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        credential = api.credential(
            SimpleNamespace(catalog=stub), username="postgres", password="x", allowed=[HOST]
        )
        yield Catalog(service.address, settings.keys_dir, credential)
    finally:
        channel.close()
        service.stop()


@pytest.fixture(params=["postgresql", "sqlite"])
def control_db(
    request: pytest.FixtureRequest, postgres_control_db: str, sqlite_control_db: str
) -> str:
    return postgres_control_db if request.param == "postgresql" else sqlite_control_db


def add_execution(control_db: str, databases: Sequence[str], *, attempt: int = 1) -> list[str]:
    """A running parent and its IN_PROGRESS children, one per database; returns the parent's
    id then the children's."""
    parent = str(uuid.uuid4())
    children = [str(uuid.uuid4()) for _ in databases]
    now = utcnow()
    engine = create_engine(control_db)
    try:
        with Session(engine) as session:
            session.add(
                ParentExecutionRow(
                    job_execution_id=parent,
                    job_name="collect",
                    lifecycle=Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS,
                    create_time=now,
                )
            )
            session.flush()
            for child, database in zip(children, databases, strict=True):
                session.add(
                    child_row(
                        parent,
                        "collect",
                        now,
                        job_execution_id=child,
                        engine="postgresql",
                        server_name="srv1",
                        port=5432,
                        database_name=database,
                        lifecycle=Lifecycle.IN_PROGRESS,
                        current_attempt=attempt,
                    )
                )
            session.commit()
    finally:
        engine.dispose()
    return [parent, *children]


def record_stop(control_db: str, parent: str) -> None:
    """What the scheduler's StopJobExecution records (`request_stop`)."""
    engine = create_engine(control_db)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ParentExecutionRow)
                .where(ParentExecutionRow.job_execution_id == parent)
                .values(stop_lifecycle=Lifecycle.CANCELED)
            )
    finally:
        engine.dispose()


def records(control_db: str, children: Sequence[str]) -> dict[str, int]:
    """{child: rows written} of the children's result-set records."""
    engine = create_engine(control_db)
    try:
        with Session(engine) as session:
            rows = session.scalars(
                select(ResultSetRow).where(ResultSetRow.job_execution_id.in_(children))
            ).all()
            return {row.job_execution_id: row.rows_written for row in rows}
    finally:
        engine.dispose()


def destination_rows(destination: Engine, table: str) -> dict[str, list[tuple[Any, ...]]]:
    """{target database: sorted (n, label)}; {} when the table does not exist."""
    with destination.connect() as conn:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
            return {}
        found: dict[str, list[tuple[Any, ...]]] = {}
        for database, n, label in conn.execute(
            text(f"SELECT target_database_name, n, label FROM {table}")
        ):
            found.setdefault(database, []).append((n, label))
    return {database: sorted(rows) for database, rows in found.items()}


def batch(
    child: str,
    parent: str,
    database: str,
    rows: Sequence[tuple[Any, ...]],
    *,
    destination: str,
    table: str,
    credential: str,
    attempt: int = 1,
) -> events_pb2.ResultBatch:
    message = events_pb2.ResultBatch(
        job_execution_id=child,
        parent_job_execution_id=parent,
        attempt=attempt,
        engine="postgresql",
        server_name="srv1",
        database_name=database,
        destination=resources.ResultDestination(
            engine="postgresql",
            server_name=HOST,
            database_name=destination,
            table_name=table,
            credential_name=credential,
        ),
        columns=[events_pb2.Column(name=name, type=kind.value) for name, kind in COLUMNS],
        rows=encode_rows(COLUMNS, rows),
    )
    message.collected_at.GetCurrentTime()
    return message


async def deliver(
    nats_url: str,
    control_db: str,
    catalog: Catalog,
    tmp_path: Path,
    *,
    batches: Sequence[events_pb2.ResultBatch],
    seams: Callable[[AsyncEngine], CommitSeams],
) -> list[events_pb2.ResultOutcome]:
    """Publishes the batches, hands them to one BatchWriter (with the seams `seams` makes,
    given an engine on the control database) as one fetch, and returns the outcomes. Checks
    that every batch was acknowledged or terminated."""
    control = make_async_engine(control_db)
    catalog_client = CatalogClient(catalog.address)
    try:
        async with result_batch_bus(nats_url) as bus:
            writer = BatchWriter(
                sessions=make_session_factory(control),
                credentials=CredentialResolver(catalog_client, KeyStore.ensure(catalog.keys_dir)),
                js=bus.js,
                names=bus.names,
                sqlite_root=tmp_path / "sqlite",
                seams=seams(control),
            )
            try:
                fetched = await bus.publish_and_fetch(batches)
                # A deadlock between the fence and a stop would hang here.
                await asyncio.wait_for(writer.handle_batch(fetched), timeout=60)
                await bus.assert_all_settled()
                await asyncio.sleep(0.3)  # the outcomes come through the subscription
                outcomes = list(bus.outcomes)
            finally:
                await writer.close()
    finally:
        await catalog_client.close()
        await control.dispose()
    return outcomes


def test_a_stop_between_the_write_and_the_commit_rolls_the_rows_back(
    nats_server: NatsProcess,
    control_db: str,
    catalog: Catalog,
    postgres_engine: Engine,
    tmp_path: Path,
) -> None:
    """Three executions' batches go to one table in one destination transaction. Once
    their rows are written, before they commit, one execution is stopped and another
    child's attempt superseded: their rows are rolled back (none written after the stop),
    the stopped batches get the stop refusal, the superseded one is dropped, and the third
    execution's rows are written again on their own and committed."""
    stopped, s1, s2 = add_execution(control_db, ["db1", "db2"])
    running, r1, superseded = add_execution(control_db, ["db3", "db4"])
    destination = str(postgres_engine.url.database)
    table = f"t_{uuid.uuid4().hex[:8]}"

    def make(child: str, parent: str, database: str, n: int) -> events_pb2.ResultBatch:
        return batch(
            child,
            parent,
            database,
            [(n, database)],
            destination=destination,
            table=table,
            credential=catalog.credential,
        )

    batches = [
        make(s1, stopped, "db1", 1),
        make(r1, running, "db3", 3),
        make(s2, stopped, "db2", 2),
        make(superseded, running, "db4", 4),
    ]
    windows: list[list[str]] = []

    def seams(_control: AsyncEngine) -> CommitSeams:
        async def rows_written(children: list[str]) -> None:
            windows.append(sorted(children))
            if len(windows) == 1:
                await asyncio.to_thread(record_stop, control_db, stopped)
                await asyncio.to_thread(set_current_attempt, control_db, superseded, 2)

        return CommitSeams(rows_written=rows_written)

    outcomes = asyncio.run(
        deliver(nats_server.url, control_db, catalog, tmp_path, batches=batches, seams=seams)
    )

    got = {o.job_execution_id: (o.ok, o.rows_written) for o in outcomes}
    assert got == {s1: (False, 0), s2: (False, 0), r1: (True, 1)}
    for outcome in outcomes:
        if not outcome.ok:
            assert outcome.message == (
                "the execution was stopped (CANCELED); its rows were not written"
            )
    assert destination_rows(postgres_engine, table) == {"db3": [(3, "db3")]}
    assert records(control_db, [s1, s2, r1, superseded]) == {r1: 1}
    # The first transaction held all four; the one written again, only r1.
    assert windows == [sorted([s1, s2, r1, superseded]), [r1]]


def test_a_stop_recorded_while_the_fence_is_held_waits_for_the_commit(
    nats_server: NatsProcess,
    postgres_control_db: str,
    catalog: Catalog,
    postgres_engine: Engine,
    tmp_path: Path,
) -> None:
    """The scheduler's stop UPDATE, issued once the fence is held and before the rows
    commit, waits on the parent's row; it proceeds after the destination and control
    commits (no deadlock), and by then the rows are in the destination: they were written
    before the stop, which the issue allows."""
    parent, c1, c2 = add_execution(postgres_control_db, ["db1", "db2"])
    destination = str(postgres_engine.url.database)
    table = f"t_{uuid.uuid4().hex[:8]}"
    batches = [
        batch(
            child,
            parent,
            database,
            [(number, database), (number + 10, database)],
            destination=destination,
            table=table,
            credential=catalog.credential,
        )
        for number, (child, database) in enumerate([(c1, "db1"), (c2, "db2")], start=1)
    ]
    stop_waited: list[bool] = []
    rows_when_stopped: list[dict[str, list[tuple[Any, ...]]]] = []
    stop_tasks: list[asyncio.Task[None]] = []

    def seams(control: AsyncEngine) -> CommitSeams:
        async def stop() -> None:
            async with control.connect() as conn:
                await conn.execute(
                    update(ParentExecutionRow)
                    .where(ParentExecutionRow.job_execution_id == parent)
                    .values(stop_lifecycle=Lifecycle.CANCELED)
                )
                # The UPDATE went through, not yet committed: what the destination holds now
                # was committed before the stop.
                rows_when_stopped.append(
                    await asyncio.to_thread(destination_rows, postgres_engine, table)
                )
                await conn.commit()

        async def fence_held(children: list[str]) -> None:
            assert sorted(children) == sorted([c1, c2])
            stop_tasks.append(asyncio.create_task(stop()))
            stop_waited.append(await _waits_on_a_lock(control, "UPDATE job_executions"))

        return CommitSeams(fence_held=fence_held)

    async def run() -> list[events_pb2.ResultOutcome]:
        outcomes = await deliver(
            nats_server.url, postgres_control_db, catalog, tmp_path, batches=batches, seams=seams
        )
        [task] = stop_tasks
        await asyncio.wait_for(task, timeout=30)
        return outcomes

    outcomes = asyncio.run(run())

    assert stop_waited == [True]
    written = {"db1": [(1, "db1"), (11, "db1")], "db2": [(2, "db2"), (12, "db2")]}
    assert rows_when_stopped == [written]
    assert {o.job_execution_id: (o.ok, o.rows_written) for o in outcomes} == {
        c1: (True, 2),
        c2: (True, 2),
    }
    assert destination_rows(postgres_engine, table) == written
    assert records(postgres_control_db, [c1, c2]) == {c1: 2, c2: 2}
    engine = create_engine(postgres_control_db)
    try:
        with engine.connect() as conn:
            stop = conn.execute(
                select(ParentExecutionRow.stop_lifecycle).where(
                    ParentExecutionRow.job_execution_id == parent
                )
            ).scalar()
    finally:
        engine.dispose()
    assert stop == Lifecycle.CANCELED


async def _waits_on_a_lock(control: AsyncEngine, query: str) -> bool:
    """Whether a session of the control database running `query` comes to wait on a lock
    within LOCK_WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_SECONDS
    async with control.connect() as conn:
        while asyncio.get_running_loop().time() < deadline:
            waiting = await conn.scalar(
                select(func.count())
                .select_from(text("pg_stat_activity"))
                .where(
                    text("wait_event_type = 'Lock'"),
                    text("query LIKE :query").bindparams(query=f"{query}%"),
                    text("datname = current_database()"),
                )
            )
            await conn.rollback()
            if waiting:
                return True
            await asyncio.sleep(0.05)
    return False
