from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
from google.protobuf.message import Message
from nats import errors as nats_errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from fleetjobs.core.messaging._names import Names

log = logging.getLogger(__name__)

# Publishes with the same Nats-Msg-Id inside this window are dropped by the stream, so a
# publish retried after a lost acknowledgement never doubles a task.
DUPLICATE_WINDOW_SECONDS = 120.0
# A publish not acknowledged within this long is sent again (same Nats-Msg-Id).
RESEND_AFTER_SECONDS = 3.0


async def connect_jetstream(url: str, *, name: str) -> tuple[Client, JetStreamContext]:
    """Connects for good: the client reconnects forever, so a NATS restart is a pause."""

    # The callbacks below report trouble; during our own drain and close they stay quiet.
    connection: list[Client] = []

    def closing() -> bool:
        return bool(connection) and (connection[0].is_draining or connection[0].is_closed)

    async def on_error(error: Exception) -> None:
        if not closing():
            log.warning("nats error", extra={"error": repr(error)})

    async def on_disconnected() -> None:
        if not closing():
            log.warning("nats disconnected; reconnecting")

    async def on_reconnected() -> None:
        log.info("nats reconnected")

    client = await nats.connect(
        servers=[server.strip() for server in url.split(",") if server.strip()],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        # Shutdown must not wait long for a broker that is gone.
        drain_timeout=5,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
    connection.append(client)
    return client, client.jetstream()


def _stream_configs(names: Names) -> list[StreamConfig]:
    def work_queue(name: str, subjects: list[str]) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )

    return [
        work_queue(names.starts_stream, [names.starts]),
        work_queue(names.tasks_stream, [names.tasks]),
        work_queue(names.results_stream, [names.results]),
        work_queue(names.events_stream, [names.child_events, names.result_outcomes]),
    ]


async def ensure_streams(js: JetStreamContext, names: Names) -> None:
    """Creates the streams when missing; every service calls it at start, so whichever starts
    first sets them up and the order of start-up does not matter."""
    for config in _stream_configs(names):
        try:
            await js.add_stream(config)
        except BadRequestError:
            # Exists with a different configuration (an older fleetjobs): bring it in line.
            await js.update_stream(config)


async def publish(
    js: JetStreamContext,
    subject: str,
    message: Message,
    *,
    msg_id: str,
    headers: dict[str, Any] | None = None,
    ack_timeout: float = 10.0,
) -> None:
    """Publishes until the stream acknowledges it, within `ack_timeout`. A publish caught by
    a broker restart is lost with no answer: it is sent again every RESEND_AFTER_SECONDS
    under the same Nats-Msg-Id (the stream drops a repeat of one it stored), so a restart
    costs seconds rather than the whole timeout."""
    data = message.SerializeToString()
    all_headers = {"Nats-Msg-Id": msg_id, **(headers or {})}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ack_timeout
    while True:
        wait = min(RESEND_AFTER_SECONDS, deadline - loop.time())
        try:
            await js.publish(subject, data, headers=all_headers, timeout=max(wait, 0.001))
            return
        except nats_errors.TimeoutError:
            if loop.time() >= deadline:
                raise
