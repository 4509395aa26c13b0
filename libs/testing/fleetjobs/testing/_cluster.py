"""A private PostgreSQL cluster (`initdb` + `pg_ctl`) on a free port, for tests that stop
and restart a database server: the shared one on 5432 holds every other test's databases and
is never restarted. Trust authentication, a temp directory, gone afterwards."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg

from fleetjobs.testing._servers import free_port


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries installed (`initdb`, `pg_ctl`), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parents[1].name)
    except ValueError:
        return 0.0


def _run_as() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its binaries as the `postgres` user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root and there is no `postgres` user") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and `runuser` is missing")
    return [runuser, "-u", "postgres", "--"]


@dataclass
class PrivateCluster:
    bin_dir: Path
    data_dir: Path
    port: int
    prefix: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self) -> None:
        log = self.data_dir.parent / "postgres.log"
        self._pg_ctl(
            "-l",
            str(log),
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            f"-k {self.data_dir.parent} -c fsync=off",
            "-w",
            "start",
        )
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Stops the server (fast: every session is cut), stays down, starts it again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """Initialises and starts a cluster in a new temp directory (one the `postgres` user can
    reach when we are root); stops it and removes it afterwards. Raises RuntimeError when the
    binaries are missing or cannot run here."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) are installed")
    prefix = _run_as()
    base = Path(tempfile.mkdtemp(prefix="fleetjobs-pg-"))
    data_dir = base / "data"
    if prefix:
        shutil.chown(base, user="postgres")
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = PrivateCluster(bin_dir=bin_dir, data_dir=data_dir, port=free_port(), prefix=prefix)
    cluster.start()
    try:
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
