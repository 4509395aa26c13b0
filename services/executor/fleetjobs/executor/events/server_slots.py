"""FLEETJOBS_MAX_PER_SERVER across every executor replica: a counting semaphore per server
made of keys in a JetStream key-value bucket.

A slot is the key `<server>.<n>` for n < the cap. It is taken by a compare-and-set from the
"free" value (or by an atomic create when the key does not exist) and given back by a
compare-and-set to "free", so a slot costs one round trip each way when this executor knows
its last revision. The holder refreshes it while its attempt runs; the bucket's TTL removes
the key of a holder that died, so a crashed executor never leaks capacity. A local semaphore
in front keeps one executor from spinning on keys it cannot get.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import AsyncIterator

from nats import errors as nats_errors
from nats.js import JetStreamContext
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
)
from nats.js.kv import KeyValue

from fleetjobs.core.messaging import Names

log = logging.getLogger(__name__)

SLOT_TTL_SECONDS = 30.0
SLOT_REFRESH_SECONDS = 10.0
RETRY_BACKOFF_SECONDS = (0.005, 0.2)


def server_key(engine: str, server_name: str, port: int) -> str:
    digest = hashlib.sha256(f"{engine}|{server_name.lower()}|{port}".encode()).hexdigest()
    return digest[:20]


FREE = b"free"


class ServerSlots:
    def __init__(self, js: JetStreamContext, names: Names, *, cap: int, holder: str) -> None:
        self._js = js
        self._bucket = names.server_slots_bucket
        self._cap = cap
        self._holder = holder.encode()
        self._kv: KeyValue | None = None
        self._local: dict[str, asyncio.Semaphore] = {}
        # Slots this executor last saw free, with that revision: the next take is one CAS.
        self._free: dict[str, int] = {}

    async def start(self) -> None:
        try:
            self._kv = await self._js.key_value(self._bucket)
        except BucketNotFoundError:
            self._kv = await self._js.create_key_value(
                bucket=self._bucket, ttl=SLOT_TTL_SECONDS, history=1
            )

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        local = self._local.setdefault(key, asyncio.Semaphore(self._cap))
        async with local:
            slot, revision = await self._acquire(key)
            held = [revision]
            refresher = asyncio.create_task(self._refresh(slot, held))
            try:
                yield
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
                await self._release(slot, held[0])

    def _candidates(self, key: str) -> list[str]:
        known_free = [s for s in self._free if s.startswith(f"{key}.")]
        # Then every slot from a random start, so replicas do not all fight over slot 0.
        first = random.randrange(self._cap)
        rest = [f"{key}.{(first + offset) % self._cap}" for offset in range(self._cap)]
        return known_free + [s for s in rest if s not in known_free]

    async def _acquire(self, key: str) -> tuple[str, int]:
        backoff = RETRY_BACKOFF_SECONDS[0]
        while True:
            try:
                for slot in self._candidates(key):
                    revision = await self._try_take(slot)
                    if revision is not None:
                        return slot, revision
            except (NoStreamResponseError, BucketNotFoundError, nats_errors.TimeoutError) as error:
                # The bucket is gone (NATS restarted on a wiped JetStream store) or the broker
                # does not answer: set the bucket up again and keep waiting for a slot, rather
                # than failing an attempt that never reached its server.
                log.warning("server slots unavailable", extra={"error": repr(error)})
                self._free.clear()
                with contextlib.suppress(Exception):
                    await self.start()
                backoff = RETRY_BACKOFF_SECONDS[1]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RETRY_BACKOFF_SECONDS[1])

    async def _try_take(self, slot: str) -> int | None:
        assert self._kv is not None, "start() first"
        known = self._free.pop(slot, None)
        try:
            if known is not None:
                return await self._kv.update(slot, self._holder, last=known)
            return await self._kv.create(slot, self._holder)
        except KeyWrongLastSequenceError:
            pass
        # Someone else moved it since: look once, and take it if it is free now.
        try:
            entry = await self._kv.get(slot)
        except KeyNotFoundError:
            return None  # deleted or expired between our calls; the next round creates it
        if entry.value != FREE or entry.revision is None:
            return None
        try:
            return await self._kv.update(slot, self._holder, last=entry.revision)
        except KeyWrongLastSequenceError:
            return None

    async def _refresh(self, slot: str, held: list[int]) -> None:
        assert self._kv is not None
        while True:
            await asyncio.sleep(SLOT_REFRESH_SECONDS)
            try:
                held[0] = await self._kv.update(slot, self._holder, last=held[0])
            except Exception as error:  # the TTL is long enough for the next refresh
                log.warning("slot refresh failed", extra={"slot": slot, "error": repr(error)})

    async def _release(self, slot: str, revision: int) -> None:
        assert self._kv is not None
        try:
            self._free[slot] = await self._kv.update(slot, FREE, last=revision)
        except Exception as error:  # the TTL frees it anyway
            log.warning("slot release failed", extra={"slot": slot, "error": repr(error)})
