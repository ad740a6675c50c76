"""A survivor's signed-in sessions, kept on the server.

The browser holds only a random token (in an HttpOnly cookie); the server keeps its
SHA-256, the case it opens, a CSRF token for the forms of that session, and when it was
opened and last used. A session ends after ``portal_session_idle_minutes`` without use or
``portal_session_hours`` after sign-in, when she signs out, and -- all of a case's at
once -- when her passphrase changes or she withdraws.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ForeignKey, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.cases.models import Case
from reclaim.config import Settings
from reclaim.store.base import Base, UtcDateTime, utcnow


class HasCsrf(Protocol):
    @property
    def csrf(self) -> str: ...


class PortalSession(Base):
    __tablename__ = "portal_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class Opened:
    token: str
    """For the cookie; the server never stores it."""
    csrf: str


def token_hash(token: str) -> str:
    """What the server keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def open_session(session: Session, *, case: Case, now: datetime | None = None) -> Opened:
    """A new session for ``case`` (after a successful sign-in)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    moment = now or utcnow()
    session.add(
        PortalSession(
            token_hash=token_hash(token),
            case_id=case.id,
            csrf=csrf,
            created=moment,
            last_seen=moment,
        )
    )
    session.flush()
    return Opened(token, csrf)


def resume(
    session: Session, *, token: str, settings: Settings, now: datetime | None = None
) -> PortalSession | None:
    """The live session ``token`` names (its use recorded), or None -- expired ones are
    deleted on the way."""
    if not token or len(token) > 200:
        return None
    row = session.get(PortalSession, token_hash(token))
    if row is None:
        return None
    moment = now or utcnow()
    idle = timedelta(minutes=settings.portal_session_idle_minutes)
    absolute = timedelta(hours=settings.portal_session_hours)
    if row.last_seen + idle < moment or row.created + absolute < moment:
        session.delete(row)
        session.flush()
        return None
    row.last_seen = moment
    return row


def csrf_ok(row: HasCsrf, sent: str | None) -> bool:
    """Whether a form carried this session's CSRF token (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(row.csrf.encode(), (sent or "").encode())


def close_session(session: Session, *, token: str) -> None:
    """Sign out."""
    session.execute(delete(PortalSession).where(PortalSession.token_hash == token_hash(token)))


def close_case_sessions(session: Session, *, case_id: int) -> int:
    """End every session of a case (new passphrase, withdrawal); how many."""
    result = session.execute(delete(PortalSession).where(PortalSession.case_id == case_id))
    return int(getattr(result, "rowcount", 0) or 0)
