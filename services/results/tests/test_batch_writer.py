"""The result-batch consumer against a real nats-server, a migrated SQLite control database
and a SQLite destination: a fetch of batches is fenced in one query, written per destination
table in one transaction, recorded in one control-database transaction, and still answered
with one outcome and one acknowledgement per batch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.orm import Session

from fleetjobs.core.clients import CatalogClient, CredentialResolver
from fleetjobs.core.crypto import KeyStore
from fleetjobs.core.db import make_async_engine, make_session_factory, utcnow
from fleetjobs.core.db.models import ResultSetRow
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.sql import CanonicalType, encode_rows
from fleetjobs.events.v1 import events_pb2
from fleetjobs.results.events.batch_writer import BatchWriter
from fleetjobs.testing._control_rows import child_row, set_current_attempt
from fleetjobs.testing._nats import NatsProcess
from fleetjobs.testing._result_batches import result_batch_bus
from fleetjobs.v1 import catalog_resources_pb2 as resources

T = CanonicalType
COLUMNS = [("n", T.INTEGER), ("label", T.TEXT)]
PARENT = str(uuid.uuid4())


def add_children(control_db: str, children: dict[str, tuple[str, int]]) -> None:
    """Children of PARENT: {child id: (lifecycle, current attempt)}."""
    engine = create_engine(control_db)
    try:
        with Session(engine) as session:
            for number, (child, (lifecycle, attempt)) in enumerate(children.items()):
                session.add(
                    child_row(
                        PARENT,
                        "collect",
                        utcnow(),
                        job_execution_id=child,
                        engine="postgresql",
                        server_name="srv1",
                        port=5432,
                        database_name=f"db{number}",
                        lifecycle=lifecycle,
                        current_attempt=attempt,
                    )
                )
            session.commit()
    finally:
        engine.dispose()


def records(control_db: str) -> dict[str, tuple[int, int]]:
    """{child: (attempt, rows written)} of PARENT's result-set records."""
    engine = create_engine(control_db)
    try:
        with Session(engine) as session:
            rows = session.scalars(
                select(ResultSetRow).where(ResultSetRow.parent_job_execution_id == PARENT)
            ).all()
            return {row.job_execution_id: (row.attempt, row.rows_written) for row in rows}
    finally:
        engine.dispose()


def destination_rows(path: Path, table: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        reflected = Table(table, MetaData(), autoload_with=engine)
        found: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            for row in conn.execute(
                select(reflected.c.target_database_name, reflected.c.n, reflected.c.label)
            ):
                found.setdefault(row[0], []).append((row[1], row[2]))
        return {database: sorted(rows) for database, rows in found.items()}
    finally:
        engine.dispose()


def batch(
    child: str,
    attempt: int,
    database: str,
    rows: Sequence[tuple[Any, ...]],
    *,
    table: str = "collected",
    columns: Sequence[tuple[str, CanonicalType]] = COLUMNS,
) -> events_pb2.ResultBatch:
    message = events_pb2.ResultBatch(
        job_execution_id=child,
        parent_job_execution_id=PARENT,
        attempt=attempt,
        engine="postgresql",
        server_name="srv1",
        database_name=database,
        destination=resources.ResultDestination(
            engine="sqlite", database_name="dest.db", table_name=table
        ),
        columns=[events_pb2.Column(name=name, type=kind.value) for name, kind in columns],
        rows=encode_rows(columns, rows),
    )
    message.collected_at.GetCurrentTime()
    message.messages.append(f"NOTICE: {database} done")
    return message


async def deliver(
    nats_url: str,
    control_db: str,
    tmp_path: Path,
    rounds: Sequence[tuple[Callable[[], None], Sequence[events_pb2.ResultBatch], int]],
) -> list[list[events_pb2.ResultOutcome]]:
    """Runs rounds of (set-up, batches, outcomes expected): publishes the batches, hands
    them to one BatchWriter as one fetch, and returns the outcomes published in each round.
    Checks that every batch was acknowledged or terminated, and the outcomes' message ids."""
    control = make_async_engine(control_db)
    catalog = CatalogClient("127.0.0.1:9")  # never called: SQLite destinations need no login
    per_round: list[list[events_pb2.ResultOutcome]] = []
    try:
        async with result_batch_bus(nats_url) as bus:
            writer = BatchWriter(
                sessions=make_session_factory(control),
                credentials=CredentialResolver(catalog, KeyStore.ensure(tmp_path / "keys")),
                js=bus.js,
                names=bus.names,
                sqlite_root=tmp_path / "sqlite",
            )
            try:
                for set_up, batches, expected in rounds:
                    set_up()
                    fetched = await bus.publish_and_fetch(batches)
                    before = len(bus.outcomes)
                    await writer.handle_batch(fetched)
                    await bus.assert_all_settled()
                    for _ in range(100):  # the outcomes come through the subscription
                        if len(bus.outcomes) >= before + expected:
                            break
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.1)  # and no more than expected
                    per_round.append(bus.outcomes[before:])
                for outcome, msg_id in zip(bus.outcomes, bus.outcome_msg_ids, strict=True):
                    assert msg_id == f"outcome:{outcome.job_execution_id}:{outcome.attempt}"
            finally:
                await writer.close()
    finally:
        await catalog.close()
        await control.dispose()
    return per_round


def test_a_fetch_is_fenced_written_and_recorded_together(
    nats_server: NatsProcess, sqlite_control_db: str, tmp_path: Path
) -> None:
    children = {f"c{i}-{PARENT[:8]}": ("IN_PROGRESS", 1) for i in range(1, 5)}
    superseded = f"superseded-{PARENT[:8]}"
    finished = f"finished-{PARENT[:8]}"
    misfit = f"misfit-{PARENT[:8]}"
    elsewhere = f"elsewhere-{PARENT[:8]}"
    children[superseded] = (Lifecycle.IN_PROGRESS, 2)
    children[finished] = (Lifecycle.SUCCEEDED, 1)
    children[misfit] = (Lifecycle.IN_PROGRESS, 1)
    children[elsewhere] = (Lifecycle.IN_PROGRESS, 1)
    add_children(sqlite_control_db, children)
    c1, c2, c3, c4 = list(children)[:4]

    first = [
        batch(c1, 1, "db1", [(1, "a"), (2, "b")]),
        batch(c2, 1, "db2", [(3, "c")]),
        batch(superseded, 1, "db5", [(5, "stale")]),
        batch(c3, 1, "db3", []),
        batch(finished, 1, "db6", [(6, "late")]),
        batch(misfit, 1, "db7", [("x", "y")], columns=[("n", T.TEXT), ("label", T.TEXT)]),
        batch(c4, 1, "db4", [(4, "d")]),
        batch(elsewhere, 1, "db8", [(8, "h")], table="other_table"),
    ]
    second = [batch(c1, 2, "db1", [(10, "again")]), batch(c2, 1, "db2", [(3, "c")])]
    dest = tmp_path / "sqlite" / "dest.db"

    def after_first_round() -> None:
        # Nothing from the superseded, finished or misfit children (db5, db6, db7).
        assert destination_rows(dest, "collected") == {
            "db1": [(1, "a"), (2, "b")],
            "db2": [(3, "c")],
            "db4": [(4, "d")],
        }
        assert destination_rows(dest, "other_table") == {"db8": [(8, "h")]}
        assert records(sqlite_control_db) == {
            c1: (1, 2),
            c2: (1, 1),
            c3: (1, 0),
            c4: (1, 1),
            elsewhere: (1, 1),
        }
        set_current_attempt(sqlite_control_db, c1, 2)

    round1, round2 = asyncio.run(
        deliver(
            nats_server.url,
            sqlite_control_db,
            tmp_path,
            [(lambda: None, first, 6), (after_first_round, second, 2)],
        )
    )

    got = {o.job_execution_id: (o.attempt, o.ok, o.rows_written) for o in round1}
    assert got == {
        c1: (1, True, 2),
        c2: (1, True, 1),
        c3: (1, True, 0),
        c4: (1, True, 1),
        misfit: (1, False, 0),
        elsewhere: (1, True, 1),
    }
    for outcome in round1:
        # Echoed from the batch, so the executor ends the attempt in one write.
        assert outcome.parent_job_execution_id == PARENT
        assert len(outcome.messages) == 1
        assert outcome.messages[0].startswith("NOTICE: db")
    assert {o.job_execution_id: o.rows_collected for o in round1}[misfit] == 1
    [refusal] = [o.message for o in round1 if not o.ok]
    assert "column 'n' is BIGINT" in refusal

    # Round two: c1's second attempt replaces its rows and its record; c2's repeat (a
    # redelivery) changes nothing.
    assert {o.job_execution_id: (o.attempt, o.rows_written) for o in round2} == {
        c1: (2, 1),
        c2: (1, 1),
    }
    assert destination_rows(dest, "collected") == {
        "db1": [(10, "again")],
        "db2": [(3, "c")],
        "db4": [(4, "d")],
    }
    assert records(sqlite_control_db) == {
        c1: (2, 1),
        c2: (1, 1),
        c3: (1, 0),
        c4: (1, 1),
        elsewhere: (1, 1),
    }
