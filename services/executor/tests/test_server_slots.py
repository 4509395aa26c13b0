"""Per-server slots against a real nats-server: the configured TTL reaches a new bucket and
an existing bucket's TTL is adopted (executors configured otherwise follow it), a holder whose
slot is lost takes one again so the cap holds, and a streak of failed refreshes warns once.

Holders here are ServerSlots objects with their own holder names, standing in for executor
replicas; the test plays a third party by writing the bucket's keys directly."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from fleetjobs.core.messaging import Names, connect_jetstream
from fleetjobs.executor.events.server_slots import FREE, ServerSlots, server_key
from fleetjobs.testing._nats import NatsProcess, start_nats
from fleetjobs.testing._servers import free_port

# A non-default port, so the label in the warnings shows it.
SERVER = ("postgresql", "db1.example.com", 5433)
LABEL = "db1.example.com:5433"
CAP = 2
# Short, so a refresh (every third of it) comes round several times within a test.
TTL = 1.5
SLOTS_LOGGER = "fleetjobs.executor.events.server_slots"


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    # Generous: it only bounds a hang; the expected moment is one refresh (0.5 s) away.
    deadline = time.monotonic() + 30
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    client, js = await connect_jetstream(url, name="test-server-slots")
    try:
        yield client, js
    finally:
        await client.close()


async def slot_values(kv: KeyValue) -> dict[str, bytes]:
    """Every slot of SERVER that has a live value, by key."""
    values = {}
    for n in range(CAP):
        slot = f"{server_key(*SERVER)}.{n}"
        try:
            entry = await kv.get(slot)
        except NotFoundError:  # never written, deleted or expired
            continue
        assert entry.value is not None
        values[slot] = entry.value
    return values


async def stream_ttl(js: JetStreamContext, names: Names) -> tuple[float | None, float]:
    config = (await js.stream_info(f"KV_{names.server_slots_bucket}")).config
    return config.max_age, config.duplicate_window


async def keep_refreshing(kv: KeyValue, slot: str, holder: bytes, revision: int) -> int:
    while True:
        await asyncio.sleep(TTL / 3)
        revision = await kv.update(slot, holder, last=revision)


class Holds:
    """Attempts holding slots until the test lets them go."""

    def __init__(self) -> None:
        self.inside = 0
        self._release = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, hold: AbstractAsyncContextManager[None]) -> None:
        async def attempt() -> None:
            async with hold:
                self.inside += 1
                await self._release.wait()
                self.inside -= 1

        self._tasks.append(asyncio.create_task(attempt()))

    async def release(self) -> None:
        self._release.set()
        await asyncio.gather(*self._tasks)


# ------------------------------------------------------------------------------ TTL


def test_the_slot_ttl_reaches_a_new_bucket(nats_server: NatsProcess) -> None:
    async def scenario() -> None:
        async with jetstream(nats_server.url) as (_, js):
            names = Names(f"t{uuid.uuid4().hex[:10]}")
            slots = ServerSlots(js, names, cap=CAP, holder="executor-a", ttl_seconds=7)
            await slots.start()
            assert await stream_ttl(js, names) == (7, 7)

    asyncio.run(scenario())


def test_executors_with_different_slot_ttls_all_follow_the_buckets(
    nats_server: NatsProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """The TTL belongs to the bucket: the first executor creates it with its setting, a later
    one configured otherwise adopts it (saying so) and refreshes at a third of it, so its
    slots never expire under it; a bucket recreated after a wipe keeps it."""
    caplog.set_level(logging.INFO, logger=SLOTS_LOGGER)

    async def scenario() -> None:
        async with jetstream(nats_server.url) as (_, js):
            names = Names(f"t{uuid.uuid4().hex[:10]}")
            first = ServerSlots(js, names, cap=CAP, holder="executor-a", ttl_seconds=TTL)
            await first.start()
            longer = ServerSlots(js, names, cap=CAP, holder="executor-b", ttl_seconds=7200)
            await longer.start()
            shorter = ServerSlots(js, names, cap=CAP, holder="executor-c", ttl_seconds=1)
            await shorter.start()

            assert await stream_ttl(js, names) == (TTL, TTL)
            for slots in (first, longer, shorter):
                assert (slots.ttl_seconds, slots.refresh_seconds) == (TTL, TTL / 3)

            # The executor configured for two hours holds its slot through several of the
            # bucket's TTLs: it refreshes at the bucket's pace, so the slot is never lost.
            kv = await js.key_value(names.server_slots_bucket)
            async with longer.hold(*SERVER):
                await asyncio.sleep(2 * TTL)
                assert list((await slot_values(kv)).values()) == [b"executor-b"]

            # A wiped store: the bucket comes back with the TTL every executor follows.
            await js.delete_key_value(names.server_slots_bucket)
            await longer.start()
            assert await stream_ttl(js, names) == (TTL, TTL)

    asyncio.run(scenario())

    adopted = [r for r in caplog.records if r.getMessage().startswith("adopting the server slot")]
    assert [(r.__dict__["configured_seconds"], r.__dict__["adopted_seconds"]) for r in adopted] == [
        (7200, TTL),
        (1, TTL),
    ]
    assert all(r.levelno == logging.WARNING for r in adopted)
    assert not [r for r in caplog.records if r.getMessage().startswith("server slot lost")]


def test_a_bucket_without_a_ttl_gets_the_executors(nats_server: NatsProcess) -> None:
    async def scenario() -> None:
        async with jetstream(nats_server.url) as (_, js):
            names = Names(f"t{uuid.uuid4().hex[:10]}")
            await js.create_key_value(bucket=names.server_slots_bucket, history=1)
            slots = ServerSlots(js, names, cap=CAP, holder="executor-a", ttl_seconds=TTL)
            await slots.start()
            assert await stream_ttl(js, names) == (TTL, TTL)
            assert slots.ttl_seconds == TTL

    asyncio.run(scenario())


# ------------------------------------------------------------------------------ lost slots


@pytest.mark.parametrize("loss", ["deleted", "taken by another holder", "bucket wiped"])
def test_a_lost_slot_is_taken_again_and_the_cap_still_holds(
    nats_server: NatsProcess, loss: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SLOTS_LOGGER)

    async def scenario() -> None:
        async with jetstream(nats_server.url) as (_, js):
            names = Names(f"t{uuid.uuid4().hex[:10]}")
            a = ServerSlots(js, names, cap=CAP, holder="executor-a", ttl_seconds=TTL)
            b = ServerSlots(js, names, cap=CAP, holder="executor-b", ttl_seconds=TTL)
            await a.start()
            await b.start()
            kv = await js.key_value(names.server_slots_bucket)

            a_holds = Holds()
            a_holds.start(a.hold(*SERVER))

            async def a_holds_a_slot() -> bool:
                return b"executor-a" in (await slot_values(kv)).values()

            await eventually(a_holds_a_slot, "A holds a slot")
            (lost,) = (s for s, v in (await slot_values(kv)).items() if v == b"executor-a")
            entry = await kv.get(lost)
            assert entry.revision is not None
            intruder: asyncio.Task[int] | None = None
            if loss == "deleted":
                await kv.delete(lost)
            elif loss == "bucket wiped":
                # As after NATS restarted on an empty JetStream store.
                await js.delete_key_value(names.server_slots_bucket)
            else:
                # What a holder elsewhere does when A's key expired: it takes the key, and
                # refreshes it as long as it holds it.
                revision = await kv.update(lost, b"executor-c", last=entry.revision)
                intruder = asyncio.create_task(keep_refreshing(kv, lost, b"executor-c", revision))
            others = 0 if intruder is None else 1

            # A's next refresh finds the key gone or someone else's, and takes a slot again.
            await eventually(a_holds_a_slot, "A took a slot again")
            retaken = [s for s, v in (await slot_values(kv)).items() if v == b"executor-a"]
            assert len(retaken) == 1

            # The cap holds: B gets only the slots neither A nor the other holder has.
            b_holds = Holds()
            for _ in range(CAP):
                b_holds.start(b.hold(*SERVER))
            allowed = CAP - 1 - others

            async def b_got_what_is_free() -> bool:
                return b_holds.inside == allowed

            await eventually(b_got_what_is_free, f"B holds {allowed} slot(s)")
            await asyncio.sleep(TTL)  # three of A's refreshes, and many of B's retries
            assert b_holds.inside == allowed, "B got a slot A holds: the cap was exceeded"

            # A gives back the slot it took again, and B's waiting attempt gets it.
            await a_holds.release()

            async def b_got_one_more() -> bool:
                return b_holds.inside == allowed + 1

            await eventually(b_got_one_more, "B took the slot A released")
            await b_holds.release()
            values = await slot_values(kv)
            assert values.get(retaken[0]) == FREE
            if intruder is not None:
                intruder.cancel()
                assert values[lost] == b"executor-c"

    asyncio.run(scenario())

    lost_warnings = [r for r in caplog.records if r.getMessage().startswith("server slot lost")]
    assert len(lost_warnings) == 1
    assert lost_warnings[0].levelno == logging.WARNING
    assert lost_warnings[0].__dict__["server"] == LABEL


def test_a_streak_of_failed_refreshes_warns_once_and_the_slot_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A private nats-server stops for several refresh intervals and comes back on its store."""
    caplog.set_level(logging.INFO, logger=SLOTS_LOGGER)
    port = free_port()
    nats = start_nats(tmp_path / "nats", port=port)

    async def scenario() -> None:
        nonlocal nats
        async with jetstream(nats.url) as (client, _):
            # Refreshes fail fast while the server is away, so a streak has several.
            js = client.jetstream(timeout=0.5)
            names = Names(f"t{uuid.uuid4().hex[:10]}")
            a = ServerSlots(js, names, cap=CAP, holder="executor-a", ttl_seconds=TTL)
            await a.start()
            kv = await js.key_value(names.server_slots_bucket)
            holds = Holds()
            holds.start(a.hold(*SERVER))

            async def a_holds_a_slot() -> bool:
                return b"executor-a" in (await slot_values(kv)).values()

            await eventually(a_holds_a_slot, "A holds a slot")
            nats.stop()

            def failing() -> list[logging.LogRecord]:
                return [r for r in caplog.records if "refresh failing" in r.getMessage()]

            async def several_refreshes_failed() -> bool:
                # Timed out refreshes: the first warns, the ones after it stay quiet.
                return len(failing()) == 1 and time.monotonic() > failed_since + 2 * TTL

            failed_since = time.monotonic()
            await eventually(several_refreshes_failed, "several refreshes failed")
            nats = start_nats(tmp_path / "nats", port=port)

            async def back() -> bool:
                return any(
                    r.getMessage() in ("server slot taken again", "server slot refreshed again")
                    for r in caplog.records
                )

            await eventually(back, "A holds a slot again")
            # Whichever way it came back (the key expired while the server was away, or not),
            # the streak it ended was several refreshes long.
            (ended,) = [
                r
                for r in caplog.records
                if r.getMessage()
                in ("server slot lost; taking one again", "server slot refreshed again")
            ]
            assert ended.__dict__["failed_refreshes"] >= 2
            await eventually(a_holds_a_slot, "A's slot is in the bucket")
            await holds.release()
            assert b"executor-a" not in (await slot_values(kv)).values()

    try:
        asyncio.run(scenario())
    finally:
        nats.stop()

    failing = [r for r in caplog.records if "refresh failing" in r.getMessage()]
    assert len(failing) == 1, [r.getMessage() for r in caplog.records]
    assert failing[0].levelno == logging.WARNING
    assert failing[0].__dict__["server"] == LABEL
