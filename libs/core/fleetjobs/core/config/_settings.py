from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ADDRESSES = {
    "catalog": "127.0.0.1:50051",
    "scheduler": "127.0.0.1:50052",
    "executor": "127.0.0.1:50053",
    "results": "127.0.0.1:50054",
}


# NATS refuses a bucket whose TTL (and so its duplicate window) is under 100 ms; under a second,
# the refreshes every third of it would be a busy loop of round trips.
MIN_SLOT_TTL_SECONDS = 1.0


class SettingsError(ValueError):
    """A FLEETJOBS_* variable has a value that cannot work; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} is not a finite number of seconds")
    if not value > 0:
        raise SettingsError(f"{name}={value} must be more than 0 seconds")
    return value


def replica_address(address: str, replica: int) -> str:
    """Replica n of a service listens on its port + 10×(n−1) (docs/design.md, "Configuration")."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SettingsError(f"address {address!r} is not host:port")
    return f"{host}:{int(port) + 10 * (replica - 1)}"


@dataclass(frozen=True, kw_only=True)
class CommonSettings:
    state_dir: Path
    control_db_url: str
    nats_url: str
    nats_prefix: str
    sqlite_root: Path
    addresses: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ADDRESSES))
    max_per_server: int = 16
    executor_concurrency: int = 32
    replica: int = 1
    # Delivery and liveness, in seconds (docs/design.md, "State and delivery"). The broker
    # redelivers a task whose holder said nothing for `task_ack_wait`; a running attempt says
    # "in progress" every third of it. An executor beats every `heartbeat_interval` and is
    # presumed dead once its beat is older than `worker_stale_after`, which must be shorter
    # than the ack wait so that a redelivered task finds its dead holder already stale and
    # takes the attempt over. Every `reconcile_interval` the executor republishes work the
    # broker lost (untouched for twice the ack wait, so never work it is still redelivering).
    task_ack_wait: float = 30.0
    heartbeat_interval: float = 5.0
    worker_stale_after: float = 20.0
    reconcile_interval: float = 30.0
    # A per-server slot (docs/adr/0002-per-server-slots.md) is forgotten `slot_ttl` after its
    # holder last refreshed it, so an executor that died gives its connections back after at
    # most that long; a live holder refreshes every third of it. The TTL is the slot bucket's:
    # this is its TTL if this executor creates the bucket; otherwise the bucket's is adopted.
    slot_ttl: float = 30.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.slot_ttl) and self.slot_ttl >= MIN_SLOT_TTL_SECONDS):
            raise SettingsError(
                f"FLEETJOBS_SLOT_TTL={self.slot_ttl:g} must be at least {MIN_SLOT_TTL_SECONDS:g} s "
                "(seconds a dead executor's per-server slots stay taken)"
            )
        if not self.heartbeat_interval < self.worker_stale_after < self.task_ack_wait:
            raise SettingsError(
                "FLEETJOBS_HEARTBEAT_INTERVAL < FLEETJOBS_WORKER_STALE_AFTER < "
                "FLEETJOBS_TASK_ACK_WAIT must hold (now "
                f"{self.heartbeat_interval:g} s, {self.worker_stale_after:g} s, "
                f"{self.task_ack_wait:g} s): a redelivered task must find its dead holder stale"
            )

    @property
    def keep_alive_interval(self) -> float:
        """How often a running attempt tells the broker it is alive."""
        return self.task_ack_wait / 3

    @property
    def lost_after(self) -> float:
        """How long work sits untouched before the reconciler counts it as lost."""
        return 2 * self.task_ack_wait

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CommonSettings:
        env = os.environ if env is None else env
        state_dir = Path(env.get("FLEETJOBS_STATE_DIR") or ".fleetjobs").absolute()
        control_db_url = env.get("FLEETJOBS_CONTROL_DB_URL") or f"sqlite:///{state_dir}/control.db"
        prefix = env.get("FLEETJOBS_NATS_PREFIX") or "fleetjobs"
        if not prefix.replace("_", "").replace("-", "").isalnum():
            raise SettingsError(
                f"FLEETJOBS_NATS_PREFIX={prefix!r} may hold only letters, digits, '_' and '-'"
            )
        addresses = {
            name: env.get(f"FLEETJOBS_{name.upper()}_ADDR") or default
            for name, default in DEFAULT_ADDRESSES.items()
        }
        for name, address in addresses.items():
            replica_address(address, 1)  # validates host:port
            del name
        return cls(
            state_dir=state_dir,
            control_db_url=control_db_url,
            # Empty means "the launcher did not hand one over"; services need one to start.
            nats_url=env.get("FLEETJOBS_NATS_URL", ""),
            nats_prefix=prefix,
            sqlite_root=Path(env.get("FLEETJOBS_SQLITE_ROOT") or state_dir / "sqlite").absolute(),
            addresses=addresses,
            max_per_server=_int(env, "FLEETJOBS_MAX_PER_SERVER", 16),
            executor_concurrency=_int(env, "FLEETJOBS_EXECUTOR_CONCURRENCY", 32),
            replica=_int(env, "FLEETJOBS_REPLICA", 1),
            task_ack_wait=_seconds(env, "FLEETJOBS_TASK_ACK_WAIT", 30.0),
            heartbeat_interval=_seconds(env, "FLEETJOBS_HEARTBEAT_INTERVAL", 5.0),
            worker_stale_after=_seconds(env, "FLEETJOBS_WORKER_STALE_AFTER", 20.0),
            reconcile_interval=_seconds(env, "FLEETJOBS_RECONCILE_INTERVAL", 30.0),
            slot_ttl=_seconds(env, "FLEETJOBS_SLOT_TTL", 30.0),
        )

    def listen_address(self, service: str) -> str:
        return replica_address(self.addresses[service], self.replica)

    @property
    def keys_dir(self) -> Path:
        return self.state_dir / "keys"

    def require_nats(self) -> str:
        if not self.nats_url:
            raise SettingsError(
                "FLEETJOBS_NATS_URL is not set: start the suite with `make up` (which runs the "
                "bundled nats-server) or point it at a NATS 2.10+ server"
            )
        return self.nats_url
