"""Background processes with pid files under <state dir>/run/ and logs under logs/."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ManagedProcess:
    """One process the launcher starts: `name` is its pid file's stem (`catalog-1`)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    # A word that must appear in /proc/<pid>/cmdline, so a pid reused by an unrelated
    # process after a reboot is never taken for ours (or signalled).
    marker: str


class RunDirectory:
    def __init__(self, state_dir: Path) -> None:
        self.run_dir = state_dir / "run"
        self.log_dir = state_dir / "logs"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def running_pid(self, name: str, marker: str) -> int | None:
        """The pid of our live process `name`, or None (a stale pid file is removed)."""
        path = self.pid_file(name)
        try:
            pid = int(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _is_ours(pid, marker):
            return pid
        path.unlink(missing_ok=True)
        return None

    def managed_names(self) -> list[str]:
        if not self.run_dir.exists():
            return []
        return sorted(p.stem for p in self.run_dir.glob("*.pid"))

    def start(self, process: ManagedProcess) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file(process.name).open("ab") as log:
            child = subprocess.Popen(
                process.argv,
                env=process.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in the terminal that ran `make up` does not reach
                # the suite, and `make stop` signals exactly what was started.
                start_new_session=True,
            )
        self.pid_file(process.name).write_text(f"{child.pid}\n")
        return child.pid

    def stop(self, name: str, marker: str, *, grace: float = 15.0) -> bool:
        pid = self.running_pid(name, marker)
        if pid is None:
            self.pid_file(name).unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file(name).unlink(missing_ok=True)
        return True

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file(name).read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child that exited (a zombie would look alive).
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return "\nState:\tZ" not in status
    except FileNotFoundError:
        return False


def _is_ours(pid: int, marker: str) -> bool:
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return False
    return marker in cmdline
