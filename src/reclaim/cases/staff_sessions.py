"""Staff sessions, kept on the server like the portal's (:mod:`reclaim.cases.sessions`).

A session starts *half open* after the password (``stage`` = ``code``: it can do nothing
but send the TOTP code, for ``CODE_MINUTES``), and is replaced by a new, fully open one
with a new token once the code is accepted -- a token anyone saw before sign-in is worth
nothing after it (session fixation). Idle and absolute timeouts come from the settings;
disabling an account ends its sessions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.cases.sessions import token_hash
from reclaim.cases.staff import StaffUser
from reclaim.config import Settings
from reclaim.store.base import Base, UtcDateTime, utcnow

CODE_MINUTES = 5
STAGE_CODE = "code"
STAGE_OPEN = "open"


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    stage: Mapped[str] = mapped_column(String(8))
    csrf: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class Opened:
    token: str
    csrf: str


def open_session(
    session: Session, *, user: StaffUser, stage: str, now: datetime | None = None
) -> Opened:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    moment = now or utcnow()
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            user_id=user.id,
            stage=stage,
            csrf=csrf,
            created=moment,
            last_seen=moment,
        )
    )
    session.flush()
    return Opened(token, csrf)


def resume(
    session: Session, *, token: str, settings: Settings, now: datetime | None = None
) -> tuple[StaffSession, StaffUser] | None:
    """The live session ``token`` names and its user (its use recorded); expired sessions
    and those of disabled accounts are deleted on the way."""
    if not token or len(token) > 200:
        return None
    row = session.get(StaffSession, token_hash(token))
    if row is None:
        return None
    moment = now or utcnow()
    user = session.get(StaffUser, row.user_id)
    if row.stage == STAGE_CODE:
        ends = row.created + timedelta(minutes=CODE_MINUTES)
    else:
        ends = min(
            row.last_seen + timedelta(minutes=settings.staff_session_idle_minutes),
            row.created + timedelta(hours=settings.staff_session_hours),
        )
    if user is None or user.disabled is not None or ends < moment:
        session.delete(row)
        session.flush()
        return None
    row.last_seen = moment
    return row, user


def close_session(session: Session, *, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))


def close_user_sessions(session: Session, *, user_id: int) -> int:
    result = session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)
