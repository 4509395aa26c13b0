"""Asynchronous job deletion, expansion locks, republish claims.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:47:00.055329
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

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delete_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("delete_time")

    with op.batch_alter_table("child_executions", schema=None) as batch_op:
        batch_op.drop_column("republish_time")

    op.drop_table("job_expansion_locks")
