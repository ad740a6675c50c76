"""Tables of the evidence package: signing keys and the custody log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reclaim.store.base import Base, UtcDateTime, utcnow


class SigningKey(Base):
    """An organisation's Ed25519 key. One is active; retired ones stay for verification."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    """The first 16 bytes of SHA-256 of the public key, in hex."""
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    """The private key wrapped by the master key (:mod:`reclaim.store.envelope`)."""
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retired: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CustodyLog(Base):
    """One organisation's custody log: how many entries it holds."""

    __tablename__ = "custody_logs"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, default=0)


class CustodyEntry(Base):
    """One entry of a custody log, as the exact bytes that were hashed."""

    __tablename__ = "custody_entries"
    __table_args__ = (UniqueConstraint("org_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    position: Mapped[int] = mapped_column(Integer)
    """The entry's index in the log, from 0."""
    body: Mapped[str] = mapped_column(Text)
    """Canonical JSON of the event (sorted keys, no spaces); its UTF-8 is the leaf data."""
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CustodyNode(Base):
    """The hash of a complete subtree of a custody log (level 0: a leaf)."""

    __tablename__ = "custody_nodes"
    __table_args__ = (
        Index("ix_custody_nodes_org_level_index", "org_id", "level", "position", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    level: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    """A signed statement of a custody log's size and root at a time."""

    __tablename__ = "custody_tree_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    size: Mapped[int] = mapped_column(Integer)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime)
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class Evidence(Base):
    """One capture of a page: sealed in a package kept in the blob store, or why not."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    sighting_id: Mapped[int | None] = mapped_column(
        ForeignKey("sightings.id"), index=True, nullable=True
    )
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The page's title as captured: text from the web, never trusted (notices escape it)."""
    status: Mapped[str] = mapped_column(String(16))
    """``sealed`` or ``failed``."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    captured: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"), nullable=True)
    package_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    datapackage_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(64), nullable=True)
    log_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The custody-log entry that records the seal."""
