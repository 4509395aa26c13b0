"""`up` and `stop`: migrate, start what is not running, wait until everything serves."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleetjobs.core.config import CommonSettings, replica_address
from fleetjobs.core.crypto import KeyStore
from fleetjobs.core.db import upgrade_to_head
from fleetjobs.core.grpc import wait_serving
from fleetjobs.launcher._nats import nats_process, pick_port, port_free, wait_listening
from fleetjobs.launcher._processes import ManagedProcess, RunDirectory

SERVICES = ("catalog", "scheduler", "executor", "results")
NATS_MARKER = "nats-server"
START_TIMEOUT_SECONDS = 60.0


def _marker(service: str) -> str:
    return f"fleetjobs.{service}"


def _replicas(env: dict[str, str], service: str) -> int:
    variable = {"executor": "FLEETJOBS_EXECUTORS", "scheduler": "FLEETJOBS_SCHEDULERS"}.get(service)
    if variable is None:
        return 1
    raw = env.get(variable, "1") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{variable}={raw!r} must be a positive integer")
    return int(raw)


@dataclass
class Endpoint:
    name: str
    address: str
    started: bool


class Suite:
    def __init__(self, env: dict[str, str] | None = None, out: Callable[[str], None] = print):
        self.env = dict(os.environ if env is None else env)
        self.settings = CommonSettings.from_env(self.env)
        self.state_dir = self.settings.state_dir
        self.run = RunDirectory(self.state_dir)
        self.out = out

    def up(self) -> list[Endpoint]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.settings.sqlite_root.mkdir(parents=True, exist_ok=True)
        upgrade_to_head(self.settings.control_db_url)
        # The key pair exists before any service starts: the catalog only reads its public half.
        KeyStore.ensure(self.settings.keys_dir)
        nats_url = self._ensure_nats()
        child_env = {
            **self.env,
            "FLEETJOBS_STATE_DIR": str(self.state_dir),
            "FLEETJOBS_NATS_URL": nats_url,
            "FLEETJOBS_CONTROL_DB_URL": self.settings.control_db_url,
            "FLEETJOBS_SQLITE_ROOT": str(self.settings.sqlite_root),
        }
        endpoints: list[Endpoint] = []
        started: list[tuple[str, str]] = []
        for service in SERVICES:
            wanted = _replicas(self.env, service)
            self._stop_extra_replicas(service, wanted)
            for replica in range(1, wanted + 1):
                name = f"{service}-{replica}"
                address = replica_address(self.settings.addresses[service], replica)
                already = self.run.running_pid(name, _marker(service)) is not None
                if not already:
                    self.run.start(
                        ManagedProcess(
                            name=name,
                            argv=[sys.executable, "-m", f"fleetjobs.{service}"],
                            env={**child_env, "FLEETJOBS_REPLICA": str(replica)},
                            marker=_marker(service),
                        )
                    )
                    started.append((name, service))
                endpoints.append(Endpoint(name, address, started=not already))
        for endpoint in endpoints:
            service = endpoint.name.rsplit("-", 1)[0]

            def still_starting(name: str = endpoint.name, service: str = service) -> bool:
                return self.run.running_pid(name, _marker(service)) is not None

            try:
                wait_serving(
                    endpoint.address,
                    timeout=START_TIMEOUT_SECONDS,
                    still_starting=still_starting,
                )
            except (RuntimeError, TimeoutError) as error:
                raise SystemExit(
                    f"{endpoint.name} did not start: {error}\n"
                    f"--- {self.run.log_file(endpoint.name)} ---\n"
                    f"{self.run.log_tail(endpoint.name)}"
                ) from None
        self.nats_url = nats_url
        return endpoints

    def _ensure_nats(self) -> str:
        external = self.env.get("FLEETJOBS_NATS_URL", "")
        if external:
            return external
        url_file = self.run.run_dir / "nats.url"
        if self.run.running_pid("nats", NATS_MARKER) is not None and url_file.exists():
            return url_file.read_text().strip()
        # A NATS that died comes back on its old port: the services that are still running
        # reconnect to the address they were given and never learn of another one.
        port = _recorded_port(url_file)
        if port is None or not port_free(port):
            if port is not None:
                self.out(
                    f"NATS port {port} is taken by another process; restarting NATS on a new "
                    "port: restart the services (`make stop`, `make up`) to reach it"
                )
            port = pick_port()
        self.run.start(nats_process(self.state_dir, port, self.env))
        if not wait_listening(port, timeout=20):
            raise SystemExit("nats-server did not start listening\n" + self.run.log_tail("nats"))
        url = f"nats://127.0.0.1:{port}"
        url_file.write_text(url + "\n")
        return url

    def _stop_extra_replicas(self, service: str, wanted: int) -> None:
        for name in self.run.managed_names():
            stem, _, number = name.rpartition("-")
            if stem == service and number.isdigit() and int(number) > wanted:
                self.run.stop(name, _marker(service))

    def stop(self) -> list[str]:
        stopped = []
        # Services first (they drain their work), NATS last.
        for name in self.run.managed_names():
            if name == "nats":
                continue
            service = name.rsplit("-", 1)[0]
            if self.run.stop(name, _marker(service)):
                stopped.append(name)
        if self.run.stop("nats", NATS_MARKER):
            stopped.append("nats")
        (self.run.run_dir / "nats.url").unlink(missing_ok=True)
        return stopped


def _recorded_port(url_file: Path) -> int | None:
    """The port of the NATS this state dir last started (run/nats.url), if any."""
    try:
        url = url_file.read_text().strip()
    except FileNotFoundError:
        return None
    _, _, port = url.rpartition(":")
    return int(port) if port.isdigit() else None


def describe(endpoints: list[Endpoint], nats_url: str, state_dir: Path) -> str:
    lines = ["fleetjobs is up:"]
    for endpoint in endpoints:
        note = "started" if endpoint.started else "already running"
        lines.append(f"  {endpoint.name:<12} {endpoint.address:<18} {note}")
    lines.append(f"  {'nats':<12} {nats_url}")
    lines.append(f"  state dir    {state_dir} (logs in logs/, pid files in run/)")
    return "\n".join(lines)
