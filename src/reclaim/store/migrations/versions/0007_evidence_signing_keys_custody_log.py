"""evidence: signing keys, custody logs, their entries, subtree hashes and tree heads

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 05:24:36.206266
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custody_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_custody_entries_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_entries")),
        sa.UniqueConstraint("org_id", "position", name=op.f("uq_custody_entries_org_id_position")),
    )
    op.create_table(
        "custody_logs",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_custody_logs_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_custody_logs")),
    )
    op.create_table(
        "custody_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_custody_nodes_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_nodes")),
    )
    with op.batch_alter_table("custody_nodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_custody_nodes_org_level_index", ["org_id", "level", "position"], unique=True
        )

    op.create_table(
        "custody_tree_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_custody_tree_heads_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_tree_heads")),
    )
    with op.batch_alter_table("custody_tree_heads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_tree_heads_org_id"), ["org_id"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_signing_keys_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_signing_keys_key_id")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_org_id"))

    op.drop_table("signing_keys")
    with op.batch_alter_table("custody_tree_heads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_tree_heads_org_id"))

    op.drop_table("custody_tree_heads")
    with op.batch_alter_table("custody_nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_custody_nodes_org_level_index")

    op.drop_table("custody_nodes")
    op.drop_table("custody_logs")
    op.drop_table("custody_entries")
