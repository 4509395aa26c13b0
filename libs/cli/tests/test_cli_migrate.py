"""`fleetjobs migrate` upgrades a real control database and says to which revision."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fleetjobs.cli.testing import run_cli


def test_migrate_upgrades_a_sqlite_control_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "state" / "control.db"
    monkeypatch.setenv("FLEETJOBS_CONTROL_DB_URL", f"sqlite:///{database}")
    result = run_cli("migrate")
    assert result.exit_code == 0, result.stderr
    with sqlite3.connect(database) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert result.stdout == f"control database sqlite:///{database} is at revision {revision}\n"

    again = run_cli("--json", "migrate")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["revision"] == revision


def test_migrate_never_shows_the_url_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 1: the connection fails, and the message must not hold the secret.
    monkeypatch.setenv(
        "FLEETJOBS_CONTROL_DB_URL", "postgresql://fleet:Pa55-w0rd-x@127.0.0.1:1/control"
    )
    result = run_cli("migrate")
    assert result.exit_code == 1
    assert "cannot migrate postgresql://fleet:***@127.0.0.1:1/control" in result.stderr
    assert "Pa55-w0rd-x" not in result.stderr + result.stdout
