"""FLEETJOBS_MAX_PER_SERVER holds across executor replicas: each script reports how many
fleetjobs connections its server has while it runs, and none ever sees more than the cap.
FLEETJOBS_SLOT_TTL reaches the slots' bucket."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.core.messaging import Names, connect_jetstream
from fleetjobs.testing import _api as api
from fleetjobs.testing._fleet import Login
from fleetjobs.testing._nats import NatsProcess
from fleetjobs.testing._servers import postgres_url
from fleetjobs.testing._suite import RunningSuite, start_suite
from fleetjobs.testing.fixtures import make_settings
from fleetjobs.v1 import catalog_resources_pb2 as r

CAP = 3
SLOT_TTL = 12.0


@pytest.fixture(scope="module")
def suite(
    sqlite_control_db: str, nats_server: NatsProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSuite]:
    settings = make_settings(
        state_dir=tmp_path_factory.mktemp("capped"),
        control_db_url=sqlite_control_db,
        nats_url=nats_server.url,
        max_per_server=CAP,
        executor_concurrency=8,
        slot_ttl=SLOT_TTL,
        # Not the default, so the sessions' connection check shows it came from here.
        heartbeat_interval=2.0,
    )
    running = start_suite(settings, executors=2)
    yield running
    running.stop()


def test_two_executors_never_exceed_the_per_server_cap(
    suite: RunningSuite, login: Login, postgres_fleet: list[str]
) -> None:
    *targets, destination = postgres_fleet
    prefix = targets[0][:7]  # fjt_pg_: every database of this fleet
    script = (
        "SELECT pg_sleep(0.3) IS NULL AS slept, (SELECT count(*) FROM pg_stat_activity"
        f" WHERE application_name = 'fleetjobs' AND datname LIKE '{prefix}%') AS concurrent,"
        " current_setting('client_connection_check_interval') AS connection_check;"
    )
    credential = api.credential(
        suite, username=login.username, password=login.password, allowed=["127.0.0.1"]
    )
    members = [
        api.database_target(suite, engine="postgresql", server="127.0.0.1", database=d)
        for d in targets
    ]
    table = f"cap_{uuid.uuid4().hex[:8]}"
    job = api.job(
        suite,
        content_name=api.content(suite, script),
        target_id=api.collection(suite, members),
        credential_name=credential,
        destination=r.ResultDestination(
            engine="postgresql",
            server_name="127.0.0.1",
            database_name=destination,
            table_name=table,
            credential_name=credential,
        ),
    )

    execution = api.run(suite, job)

    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, execution.message
    with psycopg.connect(postgres_url(destination)) as conn:
        rows = conn.execute(f'SELECT concurrent, connection_check FROM "{table}"').fetchall()
    seen = [concurrent for concurrent, _ in rows]
    assert len(seen) == len(targets)
    # The executors' sessions ask the server to drop them once they die: every heartbeat.
    assert {check for _, check in rows} == {f"{suite.settings.heartbeat_interval:g}s"}
    assert max(seen) <= CAP
    assert max(seen) > 1, "the attempts never overlapped: the cap was not exercised"


def test_the_slot_ttl_setting_reaches_the_bucket(suite: RunningSuite) -> None:
    async def bucket_ttl() -> float | None:
        client, js = await connect_jetstream(suite.settings.nats_url, name="test-slot-ttl")
        try:
            bucket = Names(suite.settings.nats_prefix).server_slots_bucket
            return (await js.stream_info(f"KV_{bucket}")).config.max_age
        finally:
            await client.close()

    assert asyncio.run(bucket_ttl()) == SLOT_TTL
