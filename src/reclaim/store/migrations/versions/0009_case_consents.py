"""cases: the survivor's consent per purpose, every decision kept

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 05:37:10.156027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "search",
                "takedown",
                "share_hashes",
                "police_evidence",
                name="consentpurpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_consents_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_consents")),
    )
    with op.batch_alter_table("case_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_consents_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_consents_case_id"))

    op.drop_table("case_consents")
