"""NATS JetStream: names (all prefixed), stream set-up, de-duplicated publishes, pull loops."""

from fleetjobs.core.messaging._names import Names
from fleetjobs.core.messaging._nats import connect_jetstream, ensure_streams, publish
from fleetjobs.core.messaging._pull import PullLoop

__all__ = ["Names", "PullLoop", "connect_jetstream", "ensure_streams", "publish"]
