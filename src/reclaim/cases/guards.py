"""Locks against guessing: failures counted per key, a lock that doubles, capped.

A guard is keyed by the SHA-256 of what was typed (a case number, a staff e-mail
address), so a key that names no one is guarded exactly like one that does. After
``failures`` failures the key is locked for ``minutes``, doubling with each further lock
up to ``2**MAX_DOUBLINGS`` times that: whoever knows the key can lock it, and must not be
able to lock its owner out for weeks. The survivor portal and the staff app both use it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.store.base import Base, UtcDateTime

MAX_DOUBLINGS = 6
"""64 x the first lock at most (16 h for 15 min)."""


class SignInGuard(Base):
    """Failures on one key as typed (known or not), and its lock."""

    __tablename__ = "case_sign_in_guards"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_failure: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SignInFailed(Exception):
    """What was typed is wrong (never which part)."""


class Locked(SignInFailed):
    """Too many failures on this key: try again later."""

    def __init__(self, until: datetime) -> None:
        super().__init__("too many attempts: try again later")
        self.until = until


@dataclass(frozen=True, slots=True)
class Policy:
    failures: int
    """Failures before a lock."""
    minutes: float
    """The first lock's length."""


def guard_key(kind: str, typed: str) -> str:
    """The guard's key for ``typed`` of ``kind`` (case numbers keep their historical,
    unprefixed keys)."""
    text = typed if kind == "case" else f"{kind}:{typed}"
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def locked_until(session: Session, key: str, moment: datetime) -> datetime | None:
    """When the lock on ``key`` ends, if it is locked at ``moment``."""
    guard = session.get(SignInGuard, key)
    if guard is not None and guard.locked_until is not None and guard.locked_until > moment:
        return guard.locked_until
    return None


def note_failure(session: Session, key: str, moment: datetime, policy: Policy) -> datetime | None:
    """Count a failure on ``key``; the end of the lock it caused, if it caused one."""
    guard = session.get(SignInGuard, key)
    if guard is None:
        guard = SignInGuard(key=key, failures=0, lockouts=0)
        session.add(guard)
    guard.failures += 1
    guard.last_failure = moment
    until = None
    if guard.failures >= policy.failures:
        minutes = policy.minutes * 2 ** min(guard.lockouts, MAX_DOUBLINGS)
        until = guard.locked_until = moment + timedelta(minutes=minutes)
        guard.lockouts += 1
        guard.failures = 0
    session.flush()
    return until


def clear(session: Session, key: str) -> None:
    """Forget the failures on ``key`` (after a success)."""
    guard = session.get(SignInGuard, key)
    if guard is not None:
        session.delete(guard)
