"""Tables for organisations, cases and case timeline events."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false as sa_false

from reclaim.store.base import Base, UtcDateTime, enum_values, utcnow


class Organisation(Base):
    """A support centre (or other tenant); it owns its banks, cases, keys and logs."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    contact_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    """Where answers to its notices go (Reply-To), and the notifier's address in them."""
    contact_phone: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Case(Base):
    """A survivor's case, known to her by its public number."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[CaseStatus] = mapped_column(
        Enum(CaseStatus, native_enum=False, length=16, values_callable=enum_values),
        default=CaseStatus.OPEN,
    )
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    minor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    """She was under 18 when filmed: no media of this case is ever kept (hashes, URLs,
    headers and a heavily blurred screenshot only), and reports go to a hotline."""


class CaseEventRow(Base):
    """One entry of a case timeline; rows are only ever inserted."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConsentPurpose(enum.StrEnum):
    SEARCH = "search"
    """Search the web for her images."""
    TAKEDOWN = "takedown"
    """Send takedown notices."""
    SHARE_HASHES = "share_hashes"
    """Share her hashes with platforms."""
    POLICE_EVIDENCE = "police_evidence"
    """Prepare evidence for the police."""


class Consent(Base):
    """A survivor's decision about one purpose, as recorded (latest row wins). Rows are
    only inserted: the history of her decisions is kept."""

    __tablename__ = "case_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[ConsentPurpose] = mapped_column(
        Enum(ConsentPurpose, native_enum=False, length=32, values_callable=enum_values)
    )
    granted: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
