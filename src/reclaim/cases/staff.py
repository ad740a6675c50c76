"""The people who work on cases: staff accounts, their passwords and their second factor.

Each account belongs to one organisation and has one role (:class:`reclaim.cases.roles.Role`).
Signing in takes two steps, each checked the same way whatever is wrong:

1. e-mail address and password: one argon2id verification on every attempt (against a
   dummy hash for an address with no account, or a disabled one), under a guard per address
   as typed (:mod:`reclaim.cases.guards`);
2. a TOTP code (RFC 6238, 30 s steps, one step of clock drift either way) from the
   authenticator app enrolled at the first sign-in. A code is accepted once: its step must
   be later than the last accepted one (a code seen over someone's shoulder is spent).
   Wrong codes count on the same guard.

The TOTP secret is kept wrapped by the installation's master key, never in the clear.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, Enum, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.expression import false as sa_false

from reclaim.cases import guards
from reclaim.cases.guards import Locked, SignInFailed
from reclaim.cases.models import Organisation
from reclaim.cases.roles import Actor, Role
from reclaim.config import Settings
from reclaim.store.base import Base, UtcDateTime, enum_values, utcnow
from reclaim.store.envelope import MasterKey

MIN_PASSWORD = 12
MAX_PASSWORD = 256
TOTP_STEP = 30
ISSUER = "Reclaim"


class StaffUser(Base):
    """A person who works on an organisation's cases."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=enum_values)
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The TOTP secret, wrapped by the master key (None until she enrols)."""
    totp_enrolled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    disabled: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_sign_in: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    def actor(self) -> Actor:
        """How the records name her."""
        return Actor(self.email, self.role)


class AccountError(ValueError):
    """An account that cannot be made or changed as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the authenticator app needs: the secret, as text and as an otpauth URI."""

    secret: str
    uri: str


def normalise_email(text: str) -> str:
    address = unicodedata.normalize("NFKC", text).strip().lower()
    if len(address) > 320 or address.count("@") != 1 or any(c.isspace() for c in address):
        raise AccountError("an e-mail address like name@example.org, please")
    local, _, domain = address.partition("@")
    if not local or not domain:
        raise AccountError("an e-mail address like name@example.org, please")
    return address


def valid_password(password: str) -> str:
    text = unicodedata.normalize("NFKC", password)
    if len(text) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(text) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    return text


def new_password() -> str:
    """A generated first password (shown once; she may keep it or change it)."""
    return secrets.token_urlsafe(15)


class Accounts:
    """Creates accounts and checks sign-ins with the costs and locks the settings name."""

    def __init__(self, settings: Settings, master: MasterKey | None) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.staff_argon2_time_cost,
            memory_cost=settings.staff_argon2_memory_kib,
            parallelism=1,
        )
        self._dummy = self._hasher.hash(new_password())
        self._policy = guards.Policy(
            settings.staff_lockout_failures, settings.staff_lockout_minutes
        )
        self._master = master

    # -- accounts -------------------------------------------------------------------------

    def add(
        self,
        session: Session,
        *,
        org: Organisation,
        email: str,
        role: Role,
        password: str,
        name: str = "",
    ) -> StaffUser:
        address = normalise_email(email)
        if session.scalar(select(StaffUser.id).where(StaffUser.email == address)) is not None:
            raise AccountError(f"there is already an account for {address}")
        user = StaffUser(
            org_id=org.id,
            email=address,
            name=(name.strip() or address.split("@")[0])[:200],
            role=Role(role),
            password_hash=self._hasher.hash(valid_password(password)),
        )
        session.add(user)
        session.flush()
        return user

    def set_password(self, session: Session, *, user: StaffUser, password: str) -> None:
        user.password_hash = self._hasher.hash(valid_password(password))
        session.flush()

    # -- signing in -----------------------------------------------------------------------

    def check_password(
        self, session: Session, *, email: str, password: str, now: datetime | None = None
    ) -> StaffUser:
        """Step one: the account, if the password opens it; :class:`SignInFailed` if not."""
        moment = now or utcnow()
        typed = unicodedata.normalize("NFKC", email).strip().lower()[:320]
        key = guards.guard_key("staff", typed)
        until = guards.locked_until(session, key, moment)
        if until is not None:
            raise Locked(until)
        user = session.scalar(select(StaffUser).where(StaffUser.email == typed))
        usable = user is not None and user.disabled is None
        stored = user.password_hash if usable and user is not None else self._dummy
        if self._verify(stored, password) and usable and user is not None:
            if self._hasher.check_needs_rehash(user.password_hash):
                user.password_hash = self._hasher.hash(valid_password(password))
            return user
        self._fail(session, key, moment)

    def enrol(self, session: Session, *, user: StaffUser) -> Enrolment:
        """A new TOTP secret for ``user`` (kept until she confirms it with a code)."""
        if user.totp_enrolled:
            raise AccountError("two-factor sign-in is already set up for this account")
        secret = pyotp.random_base32(32)
        user.totp_sealed = self._required_master().wrap(secret.encode(), _purpose(user))
        session.flush()
        return self.enrolment(user)

    def enrolment(self, user: StaffUser) -> Enrolment:
        secret = self._secret(user)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
        return Enrolment(secret, uri)

    def check_code(
        self, session: Session, *, user: StaffUser, code: str, now: datetime | None = None
    ) -> None:
        """Step two: accept ``code`` once, or raise :class:`SignInFailed`. The first accepted
        code completes enrolment."""
        moment = now or utcnow()
        key = guards.guard_key("staff", user.email)
        until = guards.locked_until(session, key, moment)
        if until is not None:
            raise Locked(until)
        if user.disabled is None and user.totp_sealed is not None:
            step = _accepted_step(self._secret(user), code, moment)
            if step is not None and step > user.totp_last_step:
                user.totp_last_step = step
                user.totp_enrolled = True
                user.last_sign_in = moment
                guards.clear(session, key)
                session.flush()
                return
        self._fail(session, key, moment)

    def reset_totp(self, session: Session, *, user: StaffUser) -> None:
        """Forget her second factor (a lost phone): she enrols again at the next sign-in."""
        user.totp_sealed = None
        user.totp_enrolled = False
        session.flush()

    # -- inside -----------------------------------------------------------------------------

    def _fail(self, session: Session, key: str, moment: datetime) -> NoReturn:
        guards.note_failure(session, key, moment, self._policy)
        raise SignInFailed("the e-mail address, the password or the code is wrong")

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, unicodedata.normalize("NFKC", password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _secret(self, user: StaffUser) -> str:
        if user.totp_sealed is None:
            raise AccountError("two-factor sign-in is not set up for this account")
        return self._required_master().unwrap(user.totp_sealed, _purpose(user)).decode()

    def _required_master(self) -> MasterKey:
        if self._master is None:
            raise AccountError("the installation has no master key: run `reclaim keys init` first")
        return self._master


def _purpose(user: StaffUser) -> str:
    return f"staff-totp:{user.id}"


def _accepted_step(secret: str, code: str, moment: datetime) -> int | None:
    """The time step ``code`` belongs to (this one or one either side), or None."""
    digits = "".join(c for c in unicodedata.normalize("NFKC", code) if not c.isspace())
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_STEP)
    now_step = int(moment.timestamp()) // TOTP_STEP
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.at(step * TOTP_STEP), digits):
            return step
    return None


def get_user(session: Session, *, org: Organisation, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None or user.org_id != org.id:
        raise LookupError(f"no user {user_id}")
    return user


def list_users(session: Session, *, org: Organisation) -> list[StaffUser]:
    return list(
        session.scalars(select(StaffUser).where(StaffUser.org_id == org.id).order_by(StaffUser.id))
    )
