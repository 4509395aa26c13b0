"""FLEETJOBS_MAX_PER_SERVER across every executor replica: a counting semaphore per server
made of keys in a JetStream key-value bucket.

A slot is the key `<server>.<n>` for n < the cap. It is taken by a compare-and-set from the
"free" value (or by an atomic create when the key does not exist) and given back by a
compare-and-set to "free", so a slot costs one round trip each way when this executor knows
its last revision. The holder refreshes it while its attempt runs; the bucket's TTL removes
the key of a holder that died, so a crashed executor never leaks capacity. A local semaphore
in front keeps one executor from spinning on keys it cannot get.

A holder that finds its key gone or taken by someone else when it refreshes (no refresh landed
for a whole TTL: the broker was unreachable, or the event loop stalled) is running without a
slot, and its server may be over the cap: it takes a slot again in the background while the
attempt goes on, and refreshes and finally releases that one instead.

The TTL belongs to the bucket, not to each executor (docs/adr/0002-per-server-slots.md): the
first executor creates the bucket with its FLEETJOBS_SLOT_TTL, and every later one adopts the
bucket's TTL, refreshing at a third of it, and logs a warning when its own setting differs.
Two executors can never disagree, since an executor refreshing at a third of a longer TTL
than the bucket's would lose its slots to expiry and push its servers over the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
from collections.abc import AsyncIterator

from nats import errors as nats_errors
from nats.js import JetStreamContext
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)
from nats.js.kv import KeyValue

from fleetjobs.core.messaging import Names
from fleetjobs.core.sql import server_label

log = logging.getLogger(__name__)

# The broker restarting, unreachable or without the bucket: waiting is right, failing the
# attempt (which never reached its server) is not.
_BROKER_AWAY = (
    NoStreamResponseError,
    BucketNotFoundError,
    ServiceUnavailableError,
    nats_errors.TimeoutError,
    nats_errors.NoRespondersError,
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionReconnectingError,
)

DEFAULT_TTL_SECONDS = 30.0
RETRY_BACKOFF_SECONDS = (0.005, 0.2)
# What nats-py's create_key_value gives a bucket: de-duplication never outlives the keys.
MAX_DUPLICATE_WINDOW_SECONDS = 120.0
# A holder refreshes its slot this many times per TTL.
REFRESHES_PER_TTL = 3


def server_key(engine: str, server_name: str, port: int) -> str:
    digest = hashlib.sha256(f"{engine}|{server_name.lower()}|{port}".encode()).hexdigest()
    return digest[:20]


FREE = b"free"


class _Lease:
    """The slot an attempt holds; `revision` is None while it has none (taking one again)."""

    __slots__ = ("revision", "slot")

    def __init__(self, slot: str, revision: int | None) -> None:
        self.slot = slot
        self.revision = revision


class ServerSlots:
    def __init__(
        self,
        js: JetStreamContext,
        names: Names,
        *,
        cap: int,
        holder: str,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._js = js
        self._bucket = names.server_slots_bucket
        # The key-value bucket is this stream (the KV naming convention of every NATS client).
        self._stream = f"KV_{self._bucket}"
        self._cap = cap
        self._holder = holder.encode()
        # FLEETJOBS_SLOT_TTL: the TTL of the bucket if this executor is the first.
        self._configured_ttl = ttl_seconds
        # The TTL this executor follows: the bucket's, once start() adopted it.
        self._ttl = ttl_seconds
        self._kv: KeyValue | None = None
        self._local: dict[str, asyncio.Semaphore] = {}
        # Slots this executor last saw free, with that revision: the next take is one CAS.
        self._free: dict[str, int] = {}

    @property
    def ttl_seconds(self) -> float:
        """The bucket's TTL, which this executor follows (its own setting until start())."""
        return self._ttl

    @property
    def refresh_seconds(self) -> float:
        return self._ttl / REFRESHES_PER_TTL

    async def start(self) -> None:
        """Sets the bucket up, in this order: creates it when it is missing, with the TTL this
        executor follows (FLEETJOBS_SLOT_TTL at first, the adopted one once it adopted one, so
        a bucket recreated after a wiped JetStream store keeps the TTL every running executor
        follows); otherwise adopts the TTL it has, with a warning when that differs from
        FLEETJOBS_SLOT_TTL; a bucket without any TTL (never made by an executor) gets ours."""
        try:
            info = await self._js.stream_info(self._stream)
        except NotFoundError:
            try:
                self._kv = await self._js.create_key_value(
                    bucket=self._bucket, ttl=self._ttl, history=1
                )
                return
            except BadRequestError:
                # Another executor created it in between, perhaps with another TTL.
                info = await self._js.stream_info(self._stream)
        current = info.config.max_age or 0.0
        if current <= 0:
            # Keys that never expire would leak a dead executor's capacity for good.
            await self._js.update_stream(
                info.config.evolve(
                    max_age=self._ttl,
                    # The server refuses a duplicate window longer than the max age.
                    duplicate_window=min(self._ttl, MAX_DUPLICATE_WINDOW_SECONDS),
                )
            )
            current = self._ttl
            log.warning(
                "server slot bucket had no TTL; gave it this executor's",
                extra={"bucket": self._bucket, "ttl_seconds": current},
            )
        elif not math.isclose(current, self._ttl, abs_tol=1e-3):
            # Once at start when FLEETJOBS_SLOT_TTL differs; again only if the bucket changed.
            log.warning(
                "adopting the server slot bucket's TTL, not FLEETJOBS_SLOT_TTL (to change it, "
                "stop every executor and delete the bucket)",
                extra={
                    "bucket": self._bucket,
                    "configured_seconds": self._configured_ttl,
                    "adopted_seconds": current,
                },
            )
        self._ttl = current
        self._kv = await self._js.key_value(self._bucket)

    @contextlib.asynccontextmanager
    async def hold(self, engine: str, server_name: str, port: int) -> AsyncIterator[None]:
        key = server_key(engine, server_name, port)
        local = self._local.setdefault(key, asyncio.Semaphore(self._cap))
        async with local:
            slot, revision = await self._acquire(key)
            lease = _Lease(slot, revision)
            refresher = asyncio.create_task(self._refresh(lease, key, engine, server_name, port))
            try:
                yield
            finally:
                refresher.cancel()
                try:
                    await refresher
                except asyncio.CancelledError:
                    pass
                except Exception as error:
                    # The attempt's own outcome stands: a slot's bookkeeping failing must
                    # not turn a script that succeeded into a failure.
                    log.warning("server slot refresher failed", extra={"error": repr(error)})
                if lease.revision is not None:
                    await self._release(lease.slot, lease.revision)

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
            except _BROKER_AWAY as error:
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

    async def _refresh(
        self, lease: _Lease, key: str, engine: str, server_name: str, port: int
    ) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self.refresh_seconds)
            assert self._kv is not None
            try:
                if lease.revision is None:
                    # A take again that failed last time (see below): try once more.
                    lease.slot, lease.revision = await self._acquire(key)
                    continue
                lease.revision = await self._kv.update(
                    lease.slot, self._holder, last=lease.revision
                )
            except KeyWrongLastSequenceError:
                # Expired or taken by another holder: the script runs on, so the only way back
                # under the cap is to hold a slot again. Cancelled (the attempt ended) while a
                # take is in flight, that take may land unrecorded; the TTL frees it then.
                log.warning(
                    "server slot lost; taking one again",
                    extra={
                        "engine": engine,
                        "server": server_label(engine, server_name, port),
                        "failed_refreshes": failures,
                    },
                )
                lease.revision = None
                try:
                    lease.slot, lease.revision = await self._acquire(key)
                except Exception as error:  # the next tick takes one again
                    log.warning("taking a server slot again failed", extra={"error": repr(error)})
                    continue
                log.info(
                    "server slot taken again",
                    extra={"engine": engine, "server": server_label(engine, server_name, port)},
                )
                failures = 0
            except Exception as error:
                # Most likely the broker is restarting or slow: the next refresh may land
                # within the TTL. One warning per streak, not one per refresh.
                if not failures:
                    log.warning(
                        "server slot refresh failing; retrying",
                        extra={
                            "engine": engine,
                            "server": server_label(engine, server_name, port),
                            "error": repr(error),
                        },
                    )
                failures += 1
                if isinstance(error, NoStreamResponseError | BucketNotFoundError):
                    # The bucket is gone (a wiped JetStream store): set it up again, so the
                    # next refresh finds the key missing and takes a slot in the new bucket.
                    with contextlib.suppress(Exception):
                        await self.start()
            else:
                if failures:
                    log.info(
                        "server slot refreshed again",
                        extra={
                            "engine": engine,
                            "server": server_label(engine, server_name, port),
                            "failed_refreshes": failures,
                        },
                    )
                    failures = 0

    async def _release(self, slot: str, revision: int) -> None:
        assert self._kv is not None
        try:
            self._free[slot] = await self._kv.update(slot, FREE, last=revision)
        except Exception as error:  # the TTL frees it anyway
            log.warning("slot release failed", extra={"slot": slot, "error": repr(error)})
