"""The staff audit log: every sign-in (and failed one) and every privileged action.

Rows are only inserted. Each names who (the account's address, or what was typed for a
failed sign-in), what (``action``), on what (``target``, e.g. ``sighting:12``), when, and
from which address. Reveals of media are entries too (``reveal``), which is how the daily
exposure counter counts them; reveals of evidence media are also in the custody log.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.store.base import Base, UtcDateTime, utcnow

REVEAL = "reveal"


class AuditEntry(Base):
    __tablename__ = "staff_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), index=True, nullable=True
    )
    """None for a failed sign-in with an address no account has."""
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id"), index=True, nullable=True
    )
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


def record(
    session: Session,
    *,
    org_id: int | None,
    actor: str,
    action: str,
    target: str = "",
    user_id: int | None = None,
    details: dict[str, Any] | None = None,
    address: str = "",
    now: datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        org_id=org_id,
        user_id=user_id,
        actor=actor[:320],
        action=action[:64],
        target=target[:200],
        details=details or {},
        address=address[:64],
        created=now or utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session,
    *,
    org_id: int,
    action: str | None = None,
    user_id: int | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The organisation's entries, newest first (``before`` an id, for paging)."""
    query = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def day_start(moment: datetime, zone: str) -> datetime:
    """The start (as an aware UTC-comparable datetime) of ``moment``'s day in ``zone``."""
    tz = ZoneInfo(zone)
    local: date = moment.astimezone(tz).date()
    return datetime.combine(local, time(0), tzinfo=tz)


def exposure_today(
    session: Session, *, user_id: int, zone: str, now: datetime | None = None
) -> int:
    """How many media she revealed today (the desk's day, in ``zone``)."""
    moment = now or utcnow()
    start = day_start(moment, zone)
    count = session.scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.user_id == user_id,
            AuditEntry.action == REVEAL,
            AuditEntry.created >= start,
        )
    )
    return int(count or 0)
