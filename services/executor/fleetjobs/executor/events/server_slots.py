"""FLEETJOBS_MAX_PER_SERVER across every executor replica: a counting semaphore per server
made of keys in a JetStream key-value bucket.

A slot is the key `<server>.<n>` for n < the cap, taken with an atomic create (fails when the
key exists). The holder refreshes it while its attempt runs; the bucket's TTL frees the slot
of a holder that died, so a crashed executor never leaks connections' worth of capacity.
A local semaphore in front keeps one executor from spinning on keys it cannot get.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import AsyncIterator

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from fleetjobs.core.messaging import Names

log = logging.getLogger(__name__)

SLOT_TTL_SECONDS = 30.0
SLOT_REFRESH_SECONDS = 10.0
RETRY_BACKOFF_SECONDS = (0.005, 0.2)


def server_key(engine: str, server_name: str, port: int) -> str:
    digest = hashlib.sha256(f"{engine}|{server_name.lower()}|{port}".encode()).hexdigest()
    return digest[:20]


class ServerSlots:
    def __init__(self, js: JetStreamContext, names: Names, *, cap: int, holder: str) -> None:
        self._js = js
        self._bucket = names.server_slots_bucket
        self._cap = cap
        self._holder = holder.encode()
        self._kv: KeyValue | None = None
        self._local: dict[str, asyncio.Semaphore] = {}

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
            slot = await self._acquire(key)
            refresher = asyncio.create_task(self._refresh(slot))
            try:
                yield
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
                await self._release(slot)

    async def _acquire(self, key: str) -> str:
        assert self._kv is not None, "start() first"
        backoff = RETRY_BACKOFF_SECONDS[0]
        while True:
            # Start at a random slot so replicas do not all fight over slot 0.
            first = random.randrange(self._cap)
            for offset in range(self._cap):
                slot = f"{key}.{(first + offset) % self._cap}"
                try:
                    await self._kv.create(slot, self._holder)
                    return slot
                except KeyWrongLastSequenceError:
                    continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RETRY_BACKOFF_SECONDS[1])

    async def _refresh(self, slot: str) -> None:
        assert self._kv is not None
        while True:
            await asyncio.sleep(SLOT_REFRESH_SECONDS)
            try:
                await self._kv.put(slot, self._holder)
            except Exception as error:  # the TTL is long enough for the next refresh
                log.warning("slot refresh failed", extra={"slot": slot, "error": repr(error)})

    async def _release(self, slot: str) -> None:
        assert self._kv is not None
        try:
            await self._kv.delete(slot)
        except Exception as error:  # the TTL frees it anyway
            log.warning("slot release failed", extra={"slot": slot, "error": repr(error)})
