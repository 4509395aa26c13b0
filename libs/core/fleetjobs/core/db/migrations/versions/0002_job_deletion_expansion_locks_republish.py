"""Asynchronous job deletion, expansion locks, republish claims, attempt sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:16:12.740471
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "job_expansion_locks",
        sa.Column("job_name", sa.String(length=128), nullable=False),
        sa.Column("expansions", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_name", name=op.f("pk_job_expansion_locks")),
    )
    with op.batch_alter_table("child_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("republish_time", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("job_task_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_id", sa.String(length=64), nullable=True))

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delete_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("delete_time")

    with op.batch_alter_table("job_task_executions", schema=None) as batch_op:
        batch_op.drop_column("session_id")

    with op.batch_alter_table("child_executions", schema=None) as batch_op:
        batch_op.drop_column("republish_time")

    op.drop_table("job_expansion_locks")
