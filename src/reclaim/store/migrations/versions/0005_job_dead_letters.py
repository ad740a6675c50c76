"""jobs: the dead-letter list of tasks that failed after their last retry

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 04:27:09.401018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retried", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_dead_letters")),
    )


def downgrade() -> None:
    op.drop_table("job_dead_letters")
