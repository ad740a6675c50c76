"""Tables for banks, their items, the items' signals and the global change log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reclaim.store.base import Base, UtcDateTime, enum_values, utcnow


class BankKind(enum.StrEnum):
    NORMAL = "normal"
    NEGATIVE = "negative"  # known-benign content whose matches suppress normal ones


class Bank(Base):
    __tablename__ = "banks"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[BankKind] = mapped_column(
        Enum(BankKind, native_enum=False, length=16, values_callable=enum_values)
    )
    threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ItemStatus(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class BankItem(Base):
    """One banked picture or video: its signals, label and provenance."""

    __tablename__ = "bank_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    label: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(200))
    added: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ItemStatus] = mapped_column(
        Enum(ItemStatus, native_enum=False, length=16, values_callable=enum_values),
        default=ItemStatus.ACTIVE,
    )
    withdrawn: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    signals: Mapped[list[ItemSignal]] = relationship(
        back_populates="item", cascade="all, delete-orphan", lazy="selectin"
    )


class ItemSignal(Base):
    """A signal of an item: hex for pdq/sha256/md5, the frames as JSON for vpdq."""

    __tablename__ = "item_signals"
    __table_args__ = (Index("ix_item_signals_type_value", "signal_type", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("bank_items.id"), index=True)
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    grid: Mapped[str | None] = mapped_column(Text, nullable=True)
    """PDQ only: the nine cell hashes (reclaim.signals.pdq_grid) as JSON, when known."""

    item: Mapped[BankItem] = relationship(back_populates="signals")


class ChangeOp(enum.StrEnum):
    ADD = "add"
    VERIFY = "verify"  # a private item became shareable
    WITHDRAW = "withdraw"


class ChangeLogEntry(Base):
    """The global, ordered log of bank changes that sync and replicas follow.

    ``seq`` is one sequence over all banks. A withdrawal purges the signal values from the
    item's earlier entries: the log then keeps only that the item existed and when.
    """

    __tablename__ = "change_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    item_public_id: Mapped[str] = mapped_column(String(32), index=True)
    op: Mapped[ChangeOp] = mapped_column(
        Enum(ChangeOp, native_enum=False, length=16, values_callable=enum_values)
    )
    shared: Mapped[bool] = mapped_column(Boolean)
    signals: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
