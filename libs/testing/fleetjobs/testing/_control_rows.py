"""Rows of the control database written directly, for tests that play another service's
part (the expander's snapshot and children, the scheduler's stop, a retry's new attempt)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import create_engine, update

from fleetjobs.core.db.models import ChildExecutionRow, ExecutionSnapshotRow
from fleetjobs.core.lifecycle import Lifecycle


def snapshot_row(parent_id: str, job_name: str, now: datetime) -> ExecutionSnapshotRow:
    return ExecutionSnapshotRow(
        job_execution_id=parent_id,
        job_name=job_name,
        content_name="c",
        content_version=1,
        command_text="SELECT 1",
        policy={},
        result_destination=None,
        deadline=now + timedelta(hours=1),
        create_time=now,
    )


def child_row(parent_id: str, job_name: str, now: datetime, **fields: object) -> ChildExecutionRow:
    """A CREATED child on a SQLite database target of its own; `fields` replace any of that
    (a PostgreSQL target, another lifecycle, an id the test chose)."""
    target_id = str(uuid.uuid4())
    values: dict[str, object] = {
        "job_execution_id": str(uuid.uuid4()),
        "parent_job_execution_id": parent_id,
        "job_name": job_name,
        "target_id": target_id,
        "engine": "sqlite",
        "database_name": f"{target_id}.db",
        "lifecycle": Lifecycle.CREATED,
        "create_time": now,
        **fields,
    }
    return ChildExecutionRow(**values)


def set_current_attempt(control_db_url: str, child_id: str, attempt: int) -> None:
    """What the executor's next attempt records: the child's current attempt moves on."""
    engine = create_engine(control_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ChildExecutionRow)
                .where(ChildExecutionRow.job_execution_id == child_id)
                .values(current_attempt=attempt)
            )
    finally:
        engine.dispose()
