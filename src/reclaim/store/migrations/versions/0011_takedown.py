"""takedown: contacts, notices, targets, approvals, outbox, replies, checks; organisation contacts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 07:19:26.695153
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "takedown_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("form_url", sa.Text(), nullable=True),
        sa.Column("languages", sa.String(length=64), nullable=False),
        sa.Column("networks", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=24), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_takedown_contacts_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_contacts")),
        sa.UniqueConstraint(
            "org_id", "domain", "channel", name=op.f("uq_takedown_contacts_org_id_domain_channel")
        ),
    )
    with op.batch_alter_table("takedown_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_contacts_org_id"), ["org_id"], unique=False)

    op.create_table(
        "takedown_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("form_url", sa.Text(), nullable=True),
        sa.Column("recipient_origin", sa.String(length=24), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("edited_by", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "drafted",
                "approved",
                "rejected",
                "sent",
                "acknowledged",
                "removed",
                "partially_removed",
                "refused",
                "no_answer",
                "escalated",
                "cancelled",
                name="noticestate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("drafted_by", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalate_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("reopens", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_takedown_notices_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_takedown_notices_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["takedown_notices.id"],
            name=op.f("fk_takedown_notices_previous_id_takedown_notices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_notices")),
    )
    with op.batch_alter_table("takedown_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_notices_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_takedown_notices_domain"), ["domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_takedown_notices_org_id"), ["org_id"], unique=False)

    op.create_table(
        "takedown_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["takedown_notices.id"],
            name=op.f("fk_takedown_approvals_notice_id_takedown_notices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_approvals")),
        sa.UniqueConstraint(
            "notice_id",
            "version",
            "approver",
            name=op.f("uq_takedown_approvals_notice_id_version_approver"),
        ),
    )
    with op.batch_alter_table("takedown_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_takedown_approvals_notice_id"), ["notice_id"], unique=False
        )

    op.create_table(
        "takedown_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "failed",
                "uncertain",
                "bounced",
                name="mailstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("server_reply", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["takedown_notices.id"],
            name=op.f("fk_takedown_outbox_notice_id_takedown_notices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_takedown_outbox_message_id")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_takedown_outbox_notice_id")),
    )
    with op.batch_alter_table("takedown_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_outbox_state"), ["state"], unique=False)

    op.create_table(
        "takedown_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["takedown_notices.id"],
            name=op.f("fk_takedown_replies_notice_id_takedown_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_takedown_replies_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_replies")),
        sa.UniqueConstraint(
            "org_id", "message_id", name=op.f("uq_takedown_replies_org_id_message_id")
        ),
    )
    with op.batch_alter_table("takedown_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_takedown_replies_notice_id"), ["notice_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_takedown_replies_org_id"), ["org_id"], unique=False)

    op.create_table(
        "takedown_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("sighting_id", sa.Integer(), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=False),
        sa.Column("media_url", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "unchecked",
                "up",
                "removed",
                "changed",
                "unreachable",
                name="targetstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("last_checked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("came_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["takedown_notices.id"],
            name=op.f("fk_takedown_targets_notice_id_takedown_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["sighting_id"],
            ["sightings.id"],
            name=op.f("fk_takedown_targets_sighting_id_sightings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_targets")),
        sa.UniqueConstraint(
            "notice_id", "sighting_id", name=op.f("uq_takedown_targets_notice_id_sighting_id")
        ),
    )
    with op.batch_alter_table("takedown_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_takedown_targets_next_check"), ["next_check"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_takedown_targets_notice_id"), ["notice_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_takedown_targets_sighting_id"), ["sighting_id"], unique=False
        )

    op.create_table(
        "takedown_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("checked", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "unchecked",
                "up",
                "removed",
                "changed",
                "unreachable",
                name="targetstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["takedown_targets.id"],
            name=op.f("fk_takedown_checks_target_id_takedown_targets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_checks")),
    )
    with op.batch_alter_table("takedown_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_takedown_checks_target_id"), ["target_id"], unique=False
        )

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", sa.Text(), nullable=True))
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("contact_phone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("contact_phone")
        batch_op.drop_column("contact_email")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("title")

    with op.batch_alter_table("takedown_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_checks_target_id"))

    op.drop_table("takedown_checks")
    with op.batch_alter_table("takedown_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_targets_sighting_id"))
        batch_op.drop_index(batch_op.f("ix_takedown_targets_notice_id"))
        batch_op.drop_index(batch_op.f("ix_takedown_targets_next_check"))

    op.drop_table("takedown_targets")
    with op.batch_alter_table("takedown_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_replies_org_id"))
        batch_op.drop_index(batch_op.f("ix_takedown_replies_notice_id"))

    op.drop_table("takedown_replies")
    with op.batch_alter_table("takedown_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_outbox_state"))

    op.drop_table("takedown_outbox")
    with op.batch_alter_table("takedown_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_approvals_notice_id"))

    op.drop_table("takedown_approvals")
    with op.batch_alter_table("takedown_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_notices_org_id"))
        batch_op.drop_index(batch_op.f("ix_takedown_notices_domain"))
        batch_op.drop_index(batch_op.f("ix_takedown_notices_case_id"))

    op.drop_table("takedown_notices")
    with op.batch_alter_table("takedown_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_takedown_contacts_org_id"))

    op.drop_table("takedown_contacts")
