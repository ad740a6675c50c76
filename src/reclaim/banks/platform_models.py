"""Tables for platforms: API keys scoped to banks, the match request log, disputes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reclaim.store.base import Base, UtcDateTime, enum_values, utcnow


class ApiKey(Base):
    """A platform's key. Only a SHA-256 of the secret is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    banks: Mapped[list[ApiKeyBank]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class ApiKeyBank(Base):
    __tablename__ = "api_key_banks"

    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), primary_key=True)


class MatchRequest(Base):
    """One match request from a platform, for its statistics (no hashes are kept)."""

    __tablename__ = "match_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # "hashes" or "file"
    signals: Mapped[int] = mapped_column(Integer)
    matches: Mapped[int] = mapped_column(Integer)


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"


class Dispute(Base):
    """A platform's report that an item matched something it should not have."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("bank_items.id"), index=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[DisputeStatus] = mapped_column(
        Enum(DisputeStatus, native_enum=False, length=16, values_callable=enum_values),
        default=DisputeStatus.OPEN,
    )
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
