"""Definitions. Writer: the catalog service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleetjobs.core.db._base import Base


class CredentialRow(Base):
    __tablename__ = "credentials"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    username: Mapped[str] = mapped_column(String(256))
    # A compact JWE; the catalog never holds the private key that opens it.
    encrypted_password: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(64))
    allowed_servers: Mapped[list[str]] = mapped_column(JSON)
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]


class ContentVersionRow(Base):
    __tablename__ = "content_versions"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    command_text: Mapped[str] = mapped_column(Text)
    create_time: Mapped[datetime]


class TargetRow(Base):
    __tablename__ = "targets"

    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # database | custom_collection
    engine: Mapped[str | None] = mapped_column(String(32))
    server_name: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    database_name: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Unique per kind so an identical database target is found instead of duplicated, and a
    # collection name is taken once.
    identity_key: Mapped[str] = mapped_column(String(512), unique=True)
    collection_name: Mapped[str | None] = mapped_column(String(128))
    create_time: Mapped[datetime]


class TargetMembershipRow(Base):
    __tablename__ = "target_memberships"

    collection_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("targets.target_id", ondelete="CASCADE"), primary_key=True
    )
    child_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("targets.target_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )


class ExecutionPolicyRow(Base):
    __tablename__ = "execution_policies"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    # NULL means "take the built-in default's value".
    job_timeout_ms: Mapped[int | None] = mapped_column(BigInteger)
    initial_retry_interval_ms: Mapped[int | None] = mapped_column(BigInteger)
    maximum_retry_interval_ms: Mapped[int | None] = mapped_column(BigInteger)
    retry_interval_backoff_coefficient: Mapped[float | None] = mapped_column(Float)
    maximum_attempts: Mapped[int | None] = mapped_column(BigInteger)
    non_retryable_error_classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    create_time: Mapped[datetime]


class JobRow(Base):
    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_name: Mapped[str] = mapped_column(String(128), index=True)
    credential_name: Mapped[str] = mapped_column(String(128), default="", index=True)
    target_id: Mapped[str] = mapped_column(String(36), index=True)
    execution_policy_name: Mapped[str] = mapped_column(String(128), default="")
    # The ResultDestination fields as a JSON object; NULL when the job collects nothing.
    result_destination: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    allow_concurrent_executions: Mapped[bool] = mapped_column(default=False)
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]
    # Set by DeleteJob. The job is hidden from then on, but its row (and the content,
    # credential and target it names) stays until its executions end and the scheduler
    # has removed its history (the seeds' asynchronous deletion).
    delete_time: Mapped[datetime | None]


class RequestIdRow(Base):
    """Remembers the resource a Create with a request_id made, so a repeat returns it."""

    __tablename__ = "request_ids"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    resource_key: Mapped[str] = mapped_column(String(256))
    create_time: Mapped[datetime]
