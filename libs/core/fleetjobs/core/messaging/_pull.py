from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from nats import errors as nats_errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import errors as js_errors
from nats.js.api import ConsumerConfig

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Msg]], Awaitable[None]]
StreamSetup = Callable[[], Awaitable[None]]


class PullLoop:
    """Pulls batches from a durable consumer and hands them to a handler until stopped.

    The handler acknowledges each message itself (ack, nak with delay, in_progress, term):
    what an acknowledgement means differs per consumer. A handler error leaves its messages
    unacknowledged, so the broker redelivers them after the ack wait.

    A stream that is gone (NATS restarted on a wiped JetStream store) is set up again with
    `setup_streams`, so the loop heals itself; the reconcilers republish the lost work.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        subject: str,
        durable: str,
        config: ConsumerConfig,
        handler: BatchHandler,
        batch: int = 64,
        fetch_timeout: float = 1.0,
        capacity: Callable[[], int] | None = None,
        min_fetch: int = 1,
        setup_streams: StreamSetup | None = None,
    ) -> None:
        self._js = js
        self._stream = stream
        self._subject = subject
        self._durable = durable
        self._config = config
        self._handler = handler
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        # How many messages the caller can take now; 0 pauses pulling (backpressure).
        self._capacity = capacity or (lambda: batch)
        # Fetch only once this many messages can be taken: one pull request then serves
        # several messages instead of one each as single slots free up.
        self._min_fetch = max(1, min(min_fetch, batch))
        self._setup_streams = setup_streams
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"pull:{self._durable}")

    async def stop(self) -> None:
        """Stops pulling; messages already handed to the handler are finished by it."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        subscription: JetStreamContext.PullSubscription | None = None
        while not self._stopping.is_set():
            try:
                if subscription is None:
                    subscription = await self._js.pull_subscribe(
                        self._subject,
                        durable=self._durable,
                        stream=self._stream,
                        config=self._config,
                    )
                wanted = min(self._batch, self._capacity())
                if wanted < self._min_fetch:
                    await asyncio.sleep(0.005)
                    continue
                try:
                    messages = await subscription.fetch(wanted, timeout=self._fetch_timeout)
                except TimeoutError:  # nats' own TimeoutError is a subclass
                    continue
                await self._handler(messages)
            except nats_errors.ConnectionClosedError:
                break
            except js_errors.NotFoundError as error:
                # The stream itself is missing (a consumer alone would be re-created by
                # pull_subscribe): set the streams up again, then re-subscribe.
                log.warning(
                    "stream missing; setting it up again",
                    extra={"consumer": self._durable, "error": repr(error)},
                )
                await _closed(subscription)
                subscription = None
                if self._setup_streams is not None:
                    try:
                        await self._setup_streams()
                    except Exception as setup_error:
                        log.warning("stream set-up failed", extra={"error": repr(setup_error)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=1.0)
            except Exception as error:
                # NATS restarting, a consumer deleted with its stream: back off and re-subscribe.
                log.warning(
                    "pull loop error; retrying",
                    extra={"consumer": self._durable, "error": repr(error)},
                )
                await _closed(subscription)
                subscription = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=1.0)
        await _closed(subscription)


async def _closed(subscription: JetStreamContext.PullSubscription | None) -> None:
    """Closes a pull subscription that is given up (an error, or the loop stopping): one left
    open keeps the client's drain waiting for messages nobody will take, until its timeout.
    The broker redelivers whatever it held elsewhere."""
    if subscription is not None:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
