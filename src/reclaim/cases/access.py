"""A survivor's way into her case: the case number, a passphrase and a recovery code.

Both secrets are generated (never chosen), shown to her once, and stored only as argon2id
hashes. Signing in -- and setting a new passphrase with the recovery code -- goes the same
way whatever happens:

- a **guard** per case number *as typed* (:mod:`reclaim.cases.guards`) counts failures;
  after ``portal_lockout_failures`` of them the number is locked for
  ``portal_lockout_minutes``, doubling with each further lockout up to 64 times that, and
  a locked number is refused before any check;
- otherwise **one argon2id verification runs on every attempt**: against the case's hash,
  or -- for a number with no case, or a case without credentials -- against a dummy hash
  made the same way, so an unknown number costs what a wrong passphrase costs;
- every failure is the same :class:`SignInFailed`, whatever was wrong.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.cases import guards
from reclaim.cases.guards import Locked, SignInFailed
from reclaim.cases.models import Case
from reclaim.cases.sessions import close_case_sessions
from reclaim.config import Settings
from reclaim.store.base import Base, UtcDateTime, utcnow

SECRET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # noqa: S105 - an alphabet, not a secret
"""31 characters no one confuses (no 0/O, 1/I/L): 4.95 bits each."""
PASSPHRASE_GROUPS = 5
"""Five groups of four: 99 bits."""
RECOVERY_GROUPS = 6
"""Six groups of four: 119 bits."""


class CaseCredential(Base):
    """The hashes of a case's passphrase and recovery code."""

    __tablename__ = "case_credentials"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    passphrase_hash: Mapped[str] = mapped_column(String(200))
    recovery_hash: Mapped[str] = mapped_column(String(200))
    changed: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_sign_in: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


@dataclass(frozen=True, slots=True)
class Issued:
    """What she is shown once: keep it somewhere safe."""

    number: str
    passphrase: str
    recovery_code: str


class Access:
    """Issues and checks a case's secrets with the argon2id cost the settings name."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._hasher = PasswordHasher(
            time_cost=settings.portal_argon2_time_cost,
            memory_cost=settings.portal_argon2_memory_kib,
            parallelism=1,
        )
        self._dummy = self._hasher.hash(new_secret(PASSPHRASE_GROUPS))
        self._policy = guards.Policy(
            settings.portal_lockout_failures, settings.portal_lockout_minutes
        )

    def issue(self, session: Session, *, case: Case) -> Issued:
        """New secrets for ``case`` (replacing any earlier ones)."""
        passphrase, recovery = new_secret(PASSPHRASE_GROUPS), new_secret(RECOVERY_GROUPS)
        credential = session.get(CaseCredential, case.id)
        if credential is None:
            credential = CaseCredential(case_id=case.id, passphrase_hash="", recovery_hash="")
            session.add(credential)
        credential.passphrase_hash = self._hasher.hash(normalise(passphrase))
        credential.recovery_hash = self._hasher.hash(normalise(recovery))
        credential.changed = utcnow()
        session.flush()
        return Issued(case.number, passphrase, recovery)

    def sign_in(
        self,
        session: Session,
        *,
        number: str,
        passphrase: str,
        org_id: int | None = None,
        now: datetime | None = None,
    ) -> Case:
        """The case, if ``passphrase`` opens it (and it belongs to ``org_id``, when named: a
        portal opens only its own organisation's cases); :class:`SignInFailed` otherwise."""
        case, credential = self._check(session, number, passphrase, "passphrase", org_id, now)
        credential.last_sign_in = now or utcnow()
        if self._hasher.check_needs_rehash(credential.passphrase_hash):
            credential.passphrase_hash = self._hasher.hash(normalise(passphrase))
        return case

    def recover(
        self,
        session: Session,
        *,
        number: str,
        recovery_code: str,
        org_id: int | None = None,
        now: datetime | None = None,
    ) -> Issued:
        """New secrets (both: the used recovery code is spent) if the recovery code opens
        the case; :class:`SignInFailed` otherwise."""
        case, _ = self._check(session, number, recovery_code, "recovery", org_id, now)
        close_case_sessions(session, case_id=case.id)  # whoever held the old one is out
        return self.issue(session, case=case)

    def _check(
        self,
        session: Session,
        number: str,
        secret: str,
        which: str,
        org_id: int | None,
        now: datetime | None,
    ) -> tuple[Case, CaseCredential]:
        moment = now or utcnow()
        typed = case_number(number)
        key = guards.guard_key("case", typed)
        until = guards.locked_until(session, key, moment)
        if until is not None:
            raise Locked(until)
        query = (
            select(Case, CaseCredential)
            .join(CaseCredential, CaseCredential.case_id == Case.id)
            .where(Case.number == typed)
        )
        if org_id is not None:  # another organisation's case is as unknown as no case
            query = query.where(Case.org_id == org_id)
        found = session.execute(query).first()
        stored = self._dummy
        if found is not None:
            stored = found[1].passphrase_hash if which == "passphrase" else found[1].recovery_hash
        if self._verify(stored, secret) and found is not None:
            guards.clear(session, key)
            return found[0], found[1]
        guards.note_failure(session, key, moment, self._policy)
        raise SignInFailed("the case number or the passphrase is wrong")

    def _verify(self, stored: str, secret: str) -> bool:
        try:
            return self._hasher.verify(stored, normalise(secret))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def new_secret(groups: int) -> str:
    """``groups`` groups of four characters from :data:`SECRET_ALPHABET`, dash-separated."""
    chars = [secrets.choice(SECRET_ALPHABET) for _ in range(groups * 4)]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, len(chars), 4))


def case_number(text: str) -> str:
    """A case number as typed, in its issued form (``k7q 4m2 xp9`` is ``K7Q-4M2-XP9``)."""
    kept = normalise(text)
    return f"{kept[:3]}-{kept[3:6]}-{kept[6:]}" if len(kept) == 9 else kept


def normalise(text: str) -> str:
    """What she typed, the way it was issued: full-width forms folded (a Korean keyboard
    in full-width mode), case and spacing ignored, any dash accepted."""
    folded = unicodedata.normalize("NFKC", text).upper()
    kept = "".join(c for c in folded if c.isalnum())
    return kept[:200]
