"""Parent executions. Writer: the scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleetjobs.core.db._base import Base


class ParentExecutionRow(Base):
    __tablename__ = "job_executions"
    __table_args__ = (Index("ix_job_executions_active", "active", "create_time"),)

    job_execution_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(128), index=True)
    content_version: Mapped[int] = mapped_column(Integer, default=0)
    schedule_name: Mapped[str] = mapped_column(String(128), default="")
    fire_time: Mapped[datetime | None]
    target_id: Mapped[str] = mapped_column(String(36), default="")
    lifecycle: Mapped[str] = mapped_column(String(48))
    # Denormalised "not terminal" flag: ListJobExecutions' default lists active ones.
    active: Mapped[bool] = mapped_column(default=True)
    message: Mapped[str] = mapped_column(Text, default="")
    # Set by StopJobExecution (CANCELED) or the job timeout (TIMED_OUT): executors cancel the
    # children still to run and the statements still running, and no result row is written.
    stop_lifecycle: Mapped[str | None] = mapped_column(String(48))
    child_count: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    create_time: Mapped[datetime]
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
