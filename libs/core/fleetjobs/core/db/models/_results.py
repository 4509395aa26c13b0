"""Result-set records. Writer: the results service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleetjobs.core.db._base import Base


class ResultSetRow(Base):
    """One database's rows in a destination table, for one execution. Replaced, never added
    to, when a later attempt of the same child writes again."""

    __tablename__ = "result_sets"

    job_execution_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the child
    parent_job_execution_id: Mapped[str] = mapped_column(String(36), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(32))
    server_name: Mapped[str] = mapped_column(String(255), default="")
    database_name: Mapped[str] = mapped_column(Text)
    destination: Mapped[dict[str, Any]] = mapped_column(JSON)
    rows_written: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    create_time: Mapped[datetime]
