"""Child executions, their attempts, execution snapshots and workers. Writer: the executor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fleetjobs.core.db._base import Base, utcnow


class ExecutionSnapshotRow(Base):
    """What a parent execution runs, frozen when it was expanded: later edits of the job, its
    content or its policy never change an execution already started."""

    __tablename__ = "execution_snapshots"

    job_execution_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(128))
    content_name: Mapped[str] = mapped_column(String(128))
    content_version: Mapped[int] = mapped_column(Integer)
    command_text: Mapped[str] = mapped_column(Text)
    credential_name: Mapped[str] = mapped_column(String(128), default="")
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    result_destination: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    allow_concurrent_executions: Mapped[bool] = mapped_column(default=False)
    deadline: Mapped[datetime]
    create_time: Mapped[datetime]


class ChildExecutionRow(Base):
    __tablename__ = "child_executions"
    __table_args__ = (
        UniqueConstraint("parent_job_execution_id", "target_id", name="uq_child_per_target"),
        Index("ix_child_executions_parent_lifecycle", "parent_job_execution_id", "lifecycle"),
        Index("ix_child_executions_parent_updated", "parent_job_execution_id", "update_time"),
    )

    job_execution_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    parent_job_execution_id: Mapped[str] = mapped_column(String(36))
    job_name: Mapped[str] = mapped_column(String(128), index=True)
    target_id: Mapped[str] = mapped_column(String(36))
    engine: Mapped[str] = mapped_column(String(32))
    server_name: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[int] = mapped_column(Integer, default=0)
    database_name: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    lifecycle: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(Text, default="")
    # The attempt allowed to write now (fencing): writes from any other attempt are rejected.
    current_attempt: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    create_time: Mapped[datetime]
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    # Set on every change, so a watcher reads only the children that changed since it last
    # looked instead of the whole fleet each time.
    update_time: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=False)
    # When a reconciler last republished this child's task: every executor reconciles, and
    # only the one that moves this time forward republishes, so replicas add no duplicates.
    republish_time: Mapped[datetime | None]


class AttemptRow(Base):
    __tablename__ = "job_task_executions"
    __table_args__ = (UniqueConstraint("job_execution_id", "attempt", name="uq_attempt_number"),)

    job_task_execution_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_execution_id: Mapped[str] = mapped_column(String(36))
    parent_job_execution_id: Mapped[str] = mapped_column(String(36), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    server_name: Mapped[str] = mapped_column(String(255), default="")
    database_name: Mapped[str] = mapped_column(Text)
    lifecycle: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(Text, default="")
    error_class: Mapped[str] = mapped_column(String(64), default="")
    messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    worker_id: Mapped[str] = mapped_column(String(64), default="")
    rows_collected: Mapped[int] = mapped_column(BigInteger, default=0)
    # The target's id of the session the script runs in, where the server keeps running a
    # statement whose client died (MySQL/MariaDB thread id): whoever takes the attempt over
    # from a dead executor ends that session first.
    session_id: Mapped[str | None] = mapped_column(String(64))
    start_time: Mapped[datetime]
    end_time: Mapped[datetime | None]


class WorkerRow(Base):
    __tablename__ = "executor_workers"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    tasks_in_flight: Mapped[int] = mapped_column(Integer, default=0)
    started_time: Mapped[datetime]
    heartbeat_time: Mapped[datetime]


class JobExpansionLockRow(Base):
    """One row per job, locked by each expansion of that job: two starts expanded at the same
    instant then see each other's children, so overlap detection cannot miss."""

    __tablename__ = "job_expansion_locks"

    job_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    expansions: Mapped[int] = mapped_column(BigInteger, default=0)
