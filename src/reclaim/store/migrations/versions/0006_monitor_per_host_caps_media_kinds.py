"""monitor: a cap on URLs per host, and which media kinds a source fetches

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitor_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_per_host", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("media", sa.String(length=16), server_default="any", nullable=False)
        )
    with op.batch_alter_table("monitor_frontier", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("host", sa.String(length=255), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_monitor_frontier_source_host", ["source_id", "round", "host"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monitor_frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_frontier_source_host")
        batch_op.drop_column("host")
    with op.batch_alter_table("monitor_sources", schema=None) as batch_op:
        batch_op.drop_column("media")
        batch_op.drop_column("max_per_host")
