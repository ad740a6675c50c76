"""sightings: an encrypted thumbnail for review (a blob of the case)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 10:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thumbnail_blob_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_sightings_thumbnail_blob_id_blobs"),
            "blobs",
            ["thumbnail_blob_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sightings_thumbnail_blob_id_blobs"), type_="foreignkey"
        )
        batch_op.drop_column("thumbnail_blob_id")
