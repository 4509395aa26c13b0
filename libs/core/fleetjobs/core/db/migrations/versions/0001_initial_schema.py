"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 22:02:07.995598
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "child_executions",
        sa.Column("job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("parent_job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("server_name", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("database_name", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("lifecycle", sa.String(length=48), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("current_attempt", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_execution_id", name=op.f("pk_child_executions")),
        sa.UniqueConstraint("parent_job_execution_id", "target_id", name="uq_child_per_target"),
    )
    with op.batch_alter_table("child_executions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_child_executions_job_name"), ["job_name"], unique=False
        )
        batch_op.create_index(
            "ix_child_executions_parent_lifecycle",
            ["parent_job_execution_id", "lifecycle"],
            unique=False,
        )
        batch_op.create_index(
            "ix_child_executions_parent_updated",
            ["parent_job_execution_id", "update_time"],
            unique=False,
        )

    op.create_table(
        "content_versions",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("command_text", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_content_versions")),
    )
    op.create_table(
        "credentials",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("encrypted_password", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("allowed_servers", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_credentials")),
    )
    op.create_table(
        "execution_policies",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("job_timeout_ms", sa.BigInteger(), nullable=True),
        sa.Column("initial_retry_interval_ms", sa.BigInteger(), nullable=True),
        sa.Column("maximum_retry_interval_ms", sa.BigInteger(), nullable=True),
        sa.Column("retry_interval_backoff_coefficient", sa.Float(), nullable=True),
        sa.Column("maximum_attempts", sa.BigInteger(), nullable=True),
        sa.Column("non_retryable_error_classes", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_execution_policies")),
    )
    op.create_table(
        "execution_snapshots",
        sa.Column("job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("content_name", sa.String(length=128), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("command_text", sa.Text(), nullable=False),
        sa.Column("credential_name", sa.String(length=128), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("result_destination", sa.JSON(), nullable=True),
        sa.Column("allow_concurrent_executions", sa.Boolean(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_execution_id", name=op.f("pk_execution_snapshots")),
    )
    op.create_table(
        "executor_workers",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("tasks_in_flight", sa.Integer(), nullable=False),
        sa.Column("started_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_executor_workers")),
    )
    op.create_table(
        "job_executions",
        sa.Column("job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("schedule_name", sa.String(length=128), nullable=False),
        sa.Column("fire_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("lifecycle", sa.String(length=48), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("stop_lifecycle", sa.String(length=48), nullable=True),
        sa.Column("child_count", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_execution_id", name=op.f("pk_job_executions")),
        sa.UniqueConstraint("request_id", name=op.f("uq_job_executions_request_id")),
    )
    with op.batch_alter_table("job_executions", schema=None) as batch_op:
        batch_op.create_index("ix_job_executions_active", ["active", "create_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_executions_job_name"), ["job_name"], unique=False)

    op.create_table(
        "job_task_executions",
        sa.Column("job_task_execution_id", sa.String(length=36), nullable=False),
        sa.Column("job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("parent_job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("server_name", sa.String(length=255), nullable=False),
        sa.Column("database_name", sa.Text(), nullable=False),
        sa.Column("lifecycle", sa.String(length=48), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("error_class", sa.String(length=64), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("rows_collected", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_task_execution_id", name=op.f("pk_job_task_executions")),
        sa.UniqueConstraint("job_execution_id", "attempt", name="uq_attempt_number"),
    )
    with op.batch_alter_table("job_task_executions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_task_executions_parent_job_execution_id"),
            ["parent_job_execution_id"],
            unique=False,
        )

    op.create_table(
        "jobs",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("content_name", sa.String(length=128), nullable=False),
        sa.Column("credential_name", sa.String(length=128), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("execution_policy_name", sa.String(length=128), nullable=False),
        sa.Column("result_destination", sa.JSON(), nullable=True),
        sa.Column("allow_concurrent_executions", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_content_name"), ["content_name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_jobs_credential_name"), ["credential_name"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_jobs_target_id"), ["target_id"], unique=False)

    op.create_table(
        "request_ids",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("resource_key", sa.String(length=256), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "request_id", name=op.f("pk_request_ids")),
    )
    op.create_table(
        "result_sets",
        sa.Column("job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("parent_job_execution_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("server_name", sa.String(length=255), nullable=False),
        sa.Column("database_name", sa.Text(), nullable=False),
        sa.Column("destination", sa.JSON(), nullable=False),
        sa.Column("rows_written", sa.BigInteger(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_execution_id", name=op.f("pk_result_sets")),
    )
    with op.batch_alter_table("result_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_result_sets_parent_job_execution_id"),
            ["parent_job_execution_id"],
            unique=False,
        )

    op.create_table(
        "targets",
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=True),
        sa.Column("server_name", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("database_name", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("identity_key", sa.String(length=512), nullable=False),
        sa.Column("collection_name", sa.String(length=128), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_id", name=op.f("pk_targets")),
        sa.UniqueConstraint("identity_key", name=op.f("uq_targets_identity_key")),
    )
    op.create_table(
        "target_memberships",
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["targets.target_id"],
            name=op.f("fk_target_memberships_child_id_targets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["targets.target_id"],
            name=op.f("fk_target_memberships_collection_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "child_id", name=op.f("pk_target_memberships")),
    )
    with op.batch_alter_table("target_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_target_memberships_child_id"), ["child_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("target_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_memberships_child_id"))

    op.drop_table("target_memberships")
    op.drop_table("targets")
    with op.batch_alter_table("result_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_sets_parent_job_execution_id"))

    op.drop_table("result_sets")
    op.drop_table("request_ids")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_target_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_credential_name"))
        batch_op.drop_index(batch_op.f("ix_jobs_content_name"))

    op.drop_table("jobs")
    with op.batch_alter_table("job_task_executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_task_executions_parent_job_execution_id"))

    op.drop_table("job_task_executions")
    with op.batch_alter_table("job_executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_executions_job_name"))
        batch_op.drop_index("ix_job_executions_active")

    op.drop_table("job_executions")
    op.drop_table("executor_workers")
    op.drop_table("execution_snapshots")
    op.drop_table("execution_policies")
    op.drop_table("credentials")
    op.drop_table("content_versions")
    with op.batch_alter_table("child_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_child_executions_parent_updated")
        batch_op.drop_index("ix_child_executions_parent_lifecycle")
        batch_op.drop_index(batch_op.f("ix_child_executions_job_name"))

    op.drop_table("child_executions")
