"""Tables of the takedown stage: the contact directory, notices and what they list, their
approvals, the outbox of mail, replies and bounces, and every re-check of a reported URL."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from reclaim.store.base import Base, UtcDateTime, enum_values, utcnow


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=24, values_callable=enum_values)


class Contact(Base):
    """Where one channel reaches one site (or hosting provider): an entry of the
    organisation's contact directory."""

    __tablename__ = "takedown_contacts"
    __table_args__ = (UniqueConstraint("org_id", "domain", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    domain: Mapped[str] = mapped_column(String(253))
    """The site (its subdomains included), lower-case and in punycode."""
    channel: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    form_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    languages: Mapped[str] = mapped_column(String(64), default="en")
    """Languages the contact reads, preferred first (``ko,en``)."""
    networks: Mapped[str] = mapped_column(Text, default="")
    """CIDRs a hosting provider announces (comma-separated): a site's server address in
    one of them names this provider."""
    notes: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(24), default="manual")
    """``manual``, ``csv``, ``security.txt``, ``convention`` or ``seed``."""
    updated: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class NoticeState(enum.StrEnum):
    DRAFTED = "drafted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"
    PARTIALLY_REMOVED = "partially_removed"
    REFUSED = "refused"
    NO_ANSWER = "no_answer"
    ESCALATED = "escalated"
    CANCELLED = "cancelled"


class Notice(Base):
    """One request to one channel about one site, listing one or more URLs."""

    __tablename__ = "takedown_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str] = mapped_column(String(253), index=True)
    language: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    form_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    recipient_origin: Mapped[str | None] = mapped_column(String(24), nullable=True)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """How it was drafted (copyright notice or not, ...), to redraft the same way."""
    edited_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Raised by every edit: approvals hold for one version only."""
    state: Mapped[NoticeState] = mapped_column(_enum(NoticeState), default=NoticeState.DRAFTED)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why it was rejected, refused, cancelled."""
    drafted_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    changed: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    """When it reached removed, partially removed, refused or no answer."""
    escalate_after: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("takedown_notices.id"), nullable=True
    )
    """The notice this one escalates or reopens."""
    reopens: Mapped[bool] = mapped_column(default=False)
    """Drafted because removed content came back (a re-upload)."""


class TargetState(enum.StrEnum):
    UNCHECKED = "unchecked"
    UP = "up"
    REMOVED = "removed"
    CHANGED = "changed"
    UNREACHABLE = "unreachable"


class NoticeTarget(Base):
    """One URL a notice asks to remove: the page and the file the monitor found there."""

    __tablename__ = "takedown_targets"
    __table_args__ = (UniqueConstraint("notice_id", "sighting_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id"), index=True)
    page_url: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str] = mapped_column(Text)
    state: Mapped[TargetState] = mapped_column(_enum(TargetState), default=TargetState.UNCHECKED)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    last_checked: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    next_check: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    came_back_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Approval(Base):
    """A person approving one version of a notice (one row per person and version)."""

    __tablename__ = "takedown_approvals"
    __table_args__ = (UniqueConstraint("notice_id", "version", "approver"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MailState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    BOUNCED = "bounced"


class OutboxMessage(Base):
    """A notice's mail, exactly as it goes out. One per notice: a resend is this same row
    (same Message-ID, so the recipient can tell a repeat) with a person's say-so."""

    __tablename__ = "takedown_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("takedown_notices.id"), unique=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    message: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[MailState] = mapped_column(_enum(MailState), default=MailState.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    server_reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Reply(Base):
    """A message received about a notice: an answer, an automatic reply or a bounce."""

    __tablename__ = "takedown_replies"
    __table_args__ = (UniqueConstraint("org_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("takedown_notices.id"), index=True, nullable=True
    )
    message_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    """``reply``, ``auto`` (an automatic answer), ``bounce`` (it did not arrive) or
    ``status`` (a delivery report that is not a failure, e.g. "delayed")."""
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    received: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Check(Base):
    """One re-check of a reported URL and what it found."""

    __tablename__ = "takedown_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("takedown_targets.id"), index=True)
    checked: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    outcome: Mapped[TargetState] = mapped_column(_enum(TargetState))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
