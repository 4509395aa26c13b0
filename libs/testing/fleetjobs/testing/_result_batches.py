"""The results service's side of NATS for tests that drive a BatchWriter by hand: result
batches published and fetched as the service's consumer would, and the outcomes it
publishes collected."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from fleetjobs.core.messaging import Names, connect_jetstream, ensure_streams, publish
from fleetjobs.events.v1 import events_pb2


@dataclass
class ResultBatchBus:
    names: Names
    js: JetStreamContext
    client: Client
    subscription: JetStreamContext.PullSubscription
    outcomes: list[events_pb2.ResultOutcome] = field(default_factory=list)
    outcome_msg_ids: list[str] = field(default_factory=list)

    async def publish_and_fetch(self, batches: Sequence[events_pb2.ResultBatch]) -> list[Msg]:
        """Publishes the batches and fetches them back as one delivery."""
        for item in batches:
            await publish(self.js, self.names.results, item, msg_id=str(uuid.uuid4()))
        fetched: list[Msg] = []
        while len(fetched) < len(batches):
            fetched += await self.subscription.fetch(len(batches) - len(fetched), timeout=5)
        return fetched

    async def assert_all_settled(self) -> None:
        """Every fetched batch was acknowledged or terminated."""
        await self.client.flush()
        info = await self.subscription.consumer_info()
        assert info.num_ack_pending == 0
        assert info.num_pending == 0


@asynccontextmanager
async def result_batch_bus(nats_url: str) -> AsyncIterator[ResultBatchBus]:
    names = Names(f"t{uuid.uuid4().hex[:10]}")
    client, js = await connect_jetstream(nats_url, name="test-results")
    try:
        await ensure_streams(js, names)
        subscription = await js.pull_subscribe(
            names.results,
            durable=names.results_consumer,
            stream=names.results_stream,
            config=ConsumerConfig(
                durable_name=names.results_consumer,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
                max_deliver=-1,
            ),
        )
        bus = ResultBatchBus(names=names, js=js, client=client, subscription=subscription)

        async def on_outcome(message: Msg) -> None:
            bus.outcomes.append(events_pb2.ResultOutcome.FromString(message.data))
            bus.outcome_msg_ids.append((message.headers or {}).get("Nats-Msg-Id", ""))

        await client.subscribe(names.result_outcomes, cb=on_outcome)
        yield bus
    finally:
        await client.close()
