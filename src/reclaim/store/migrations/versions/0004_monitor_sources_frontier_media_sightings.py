"""monitor: sources, their crawl frontier, media hashed, sightings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 04:13:46.130106
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_media",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("hashed", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_monitor_media")),
    )
    op.create_table(
        "monitor_media_urls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_key", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("etag", sa.String(length=256), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("checked", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_media_urls")),
        sa.UniqueConstraint("url_key", name=op.f("uq_monitor_media_urls_url_key")),
    )
    op.create_table(
        "monitor_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("same_host", sa.Boolean(), nullable=False),
        sa.Column("path_prefix", sa.Text(), nullable=True),
        sa.Column("max_depth", sa.Integer(), nullable=False),
        sa.Column("max_pages", sa.Integer(), nullable=False),
        sa.Column("obey_robots", sa.Boolean(), nullable=False),
        sa.Column("render", sa.Boolean(), nullable=False),
        sa.Column("recrawl_hours", sa.Float(), nullable=False),
        sa.Column("min_delay", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("next_run", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_monitor_sources_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_monitor_sources_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_sources")),
    )
    with op.batch_alter_table("monitor_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitor_sources_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_monitor_sources_org_id"), ["org_id"], unique=False)

    op.create_table(
        "monitor_frontier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_key", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "claimed",
                "done",
                "failed",
                "skipped",
                name="urlstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["monitor_sources.id"],
            name=op.f("fk_monitor_frontier_source_id_monitor_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_frontier")),
        sa.UniqueConstraint(
            "source_id", "url_key", name=op.f("uq_monitor_frontier_source_id_url_key")
        ),
    )
    with op.batch_alter_table("monitor_frontier", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitor_frontier_source_state", ["source_id", "state", "depth"], unique=False
        )

    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=False),
        sa.Column("media_url_key", sa.String(length=64), nullable=False),
        sa.Column("media_sha256", sa.String(length=64), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "under_review",
                "confirmed",
                "rejected",
                name="sightingstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_sightings_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["bank_items.id"], name=op.f("fk_sightings_item_id_bank_items")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_sightings_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["monitor_sources.id"],
            name=op.f("fk_sightings_source_id_monitor_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.UniqueConstraint(
            "item_id",
            "media_sha256",
            "media_url_key",
            name=op.f("uq_sightings_item_id_media_sha256_media_url_key"),
        ),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sightings_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sightings_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sightings_media_sha256"), ["media_sha256"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sightings_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sightings_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sightings_source_id"))
        batch_op.drop_index(batch_op.f("ix_sightings_org_id"))
        batch_op.drop_index(batch_op.f("ix_sightings_media_sha256"))
        batch_op.drop_index(batch_op.f("ix_sightings_item_id"))
        batch_op.drop_index(batch_op.f("ix_sightings_case_id"))

    op.drop_table("sightings")
    with op.batch_alter_table("monitor_frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_frontier_source_state")

    op.drop_table("monitor_frontier")
    with op.batch_alter_table("monitor_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_sources_org_id"))
        batch_op.drop_index(batch_op.f("ix_monitor_sources_case_id"))

    op.drop_table("monitor_sources")
    op.drop_table("monitor_media_urls")
    op.drop_table("monitor_media")
