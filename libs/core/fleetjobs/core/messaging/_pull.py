from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from nats import errors as nats_errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Msg]], Awaitable[None]]


class PullLoop:
    """Pulls batches from a durable consumer and hands them to a handler until stopped.

    The handler acknowledges each message itself (ack, nak with delay, in_progress, term):
    what an acknowledgement means differs per consumer. A handler error leaves its messages
    unacknowledged, so the broker redelivers them after the ack wait.
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
            except Exception as error:
                # NATS restarting, a consumer deleted with its stream: back off and re-subscribe.
                log.warning(
                    "pull loop error; retrying",
                    extra={"consumer": self._durable, "error": repr(error)},
                )
                subscription = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=1.0)
        if subscription is not None:
            # An open pull subscription keeps the client's drain waiting for messages that
            # nobody will take: close it, and the broker redelivers them elsewhere.
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
