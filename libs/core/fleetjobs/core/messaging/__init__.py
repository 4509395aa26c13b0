"""NATS JetStream: names (all prefixed), stream set-up, de-duplicated publishes, pull loops,
and which handler errors are worth a redelivery."""

from fleetjobs.core.messaging._faults import is_transient
from fleetjobs.core.messaging._names import Names
from fleetjobs.core.messaging._nats import connect_jetstream, ensure_streams, publish
from fleetjobs.core.messaging._pull import PullLoop

__all__ = ["Names", "PullLoop", "connect_jetstream", "ensure_streams", "is_transient", "publish"]
