"""The suite as `make up` runs it: real processes started by the launcher
(`python -m fleetjobs.launcher up|stop`), which a test can signal, kill and bring back, with
generated gRPC clients attached like `RunningSuite`'s."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from fleetjobs.core.config import CommonSettings, replica_address
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing._servers import free_port
from fleetjobs.v1 import (
    catalog_service_pb2_grpc,
    execution_service_pb2,
    execution_service_pb2_grpc,
    executor_service_pb2_grpc,
    results_service_pb2_grpc,
)

ROOT = Path(__file__).resolve().parents[4]
GRPCURL = str(Path(sys.executable).with_name("grpcurl"))
SERVICES = ("catalog", "scheduler", "executor", "results")
# While a process is restarting, its clients see these; a test waiting for an end retries.
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def process_stopped(pid: int) -> bool:
    """True once `pid` is stopped by a signal (SIGSTOP): state T."""
    try:
        return "\nState:\tT" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


class LauncherSuite:
    """One launcher state directory: its own ports, NATS, control database (SQLite under the
    state dir unless `control_db_url`), logs and pid files. `env` adds FLEETJOBS_* settings
    (`{"FLEETJOBS_EXECUTORS": "2", "FLEETJOBS_TASK_ACK_WAIT": "6"}`)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        env: dict[str, str] | None = None,
        control_db_url: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.addresses = {name: f"127.0.0.1:{free_port()}" for name in SERVICES}
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("FLEETJOBS_")
        }
        self.env["FLEETJOBS_STATE_DIR"] = str(state_dir)
        for name, address in self.addresses.items():
            self.env[f"FLEETJOBS_{name.upper()}_ADDR"] = address
        if control_db_url:
            self.env["FLEETJOBS_CONTROL_DB_URL"] = control_db_url
        self.env.update(env or {})
        self.settings = CommonSettings.from_env(self.env)
        self._channels: list[grpc.Channel] = []
        self.catalog = catalog_service_pb2_grpc.CatalogServiceStub(self._channel("catalog"))
        self.executions = execution_service_pb2_grpc.ExecutionServiceStub(
            self._channel("scheduler")
        )
        self.executor = executor_service_pb2_grpc.ExecutorServiceStub(self._channel("executor"))
        self.results = results_service_pb2_grpc.ResultsServiceStub(self._channel("results"))

    # The launcher.
    def launcher(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fleetjobs.launcher", command],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def up(self) -> str:
        """`make up`: starts whatever is not running and waits until it serves."""
        started = self.launcher("up")
        if started.returncode != 0:
            raise AssertionError(f"launcher up failed:\n{started.stdout}\n{started.stderr}")
        return started.stdout

    def stop(self) -> None:
        for channel in self._channels:
            channel.close()
        self._channels.clear()
        self.launcher("stop")

    # Where things are.
    @property
    def control_db_url(self) -> str:
        return self.settings.control_db_url

    @property
    def sqlite_root(self) -> Path:
        return self.settings.sqlite_root

    @property
    def nats_store(self) -> Path:
        return self.state_dir / "nats" / "jetstream"

    def nats_url(self) -> str:
        return (self.state_dir / "run" / "nats.url").read_text().strip()

    def address(self, name: str) -> str:
        """The listen address of `catalog-1`, `executor-2`, …"""
        service, _, replica = name.rpartition("-")
        return replica_address(self.addresses[service], int(replica))

    # Processes.
    def pids(self) -> dict[str, int]:
        run = self.state_dir / "run"
        return {p.stem: int(p.read_text()) for p in sorted(run.glob("*.pid"))}

    def pid(self, name: str) -> int:
        return self.pids()[name]

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, *, timeout: float = 30) -> int:
        """Sends `sig` to process `name` (`executor-1`, `nats`, …); for SIGKILL and SIGTERM
        waits until it is gone, for SIGSTOP until it is stopped. Returns its pid."""
        pid = self.pid(name)
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        if sig in (signal.SIGKILL, signal.SIGTERM):
            while process_alive(pid):
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} (pid {pid}) survived {sig.name}")
                time.sleep(0.02)
        elif sig is signal.SIGSTOP:
            while not process_stopped(pid):
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} (pid {pid}) did not stop")
                time.sleep(0.01)
        return pid

    def log_text(self, name: str) -> str:
        try:
            return (self.state_dir / "logs" / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_records(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines of process `name` (other lines are skipped)."""
        records = []
        for line in self.log_text(name).splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    # Clients.
    def _channel(self, service: str) -> grpc.Channel:
        channel = grpc.insecure_channel(self.addresses[service])
        self._channels.append(channel)
        return channel

    def grpcurl(self, service: str, method: str, body: dict[str, Any]) -> dict[str, Any]:
        result = subprocess.run(
            [GRPCURL, "-plaintext", "-d", json.dumps(body), self.addresses[service], method],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout or "{}"))

    def get_execution(self, job_execution_id: str, *, children: bool = True) -> Any:
        return self.executions.GetJobExecution(
            execution_service_pb2.GetJobExecutionRequest(
                job_execution_id=job_execution_id, include_children=children
            ),
            timeout=10,
        ).job_execution

    def wait_terminal(self, job_execution_id: str, timeout: float = 120.0) -> Any:
        """Polls until the execution ends (riding out a scheduler that is restarting);
        returns it with its children."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                execution = self.get_execution(job_execution_id, children=False)
                if Lifecycle.from_proto(execution.lifecycle).terminal:
                    return self.get_execution(job_execution_id)
            except grpc.RpcError as error:
                if error.code() not in _TRANSIENT:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {job_execution_id} still running after {timeout} s")
            time.sleep(0.25)

    def resume_all(self) -> None:
        """SIGCONT to every process of the suite (a test that stopped one may have failed)."""
        for pid in self.pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def launched_suite(
    state_dir: Path, *, env: dict[str, str] | None = None, control_db_url: str | None = None
) -> Iterator[LauncherSuite]:
    """`make up` in `state_dir`, and `make stop` afterwards (whatever the test left stopped
    is resumed first, so the launcher can stop it)."""
    suite = LauncherSuite(state_dir, env=env, control_db_url=control_db_url)
    try:
        suite.up()
        yield suite
    finally:
        suite.resume_all()
        suite.stop()
