"""case contacts for content-free news

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 08:44:18.652710
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_contacts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("seen_seq", sa.Integer(), nullable=False),
        sa.Column("last_sent", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_contacts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_contacts")),
    )


def downgrade() -> None:
    op.drop_table("case_contacts")
