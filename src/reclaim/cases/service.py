"""Organisations, cases and their timelines: keyword-only functions over a session."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reclaim.cases.events import CaseEvent, CaseOpened, check_registered, event_from_row
from reclaim.cases.models import Case, CaseEventRow, Consent, ConsentPurpose, Organisation

DEFAULT_ORG = "default"
# Case numbers avoid look-alike characters (0/O, 1/I/L, U/V) so they survive being read aloud.
CASE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


class NotFound(LookupError):
    """No such organisation, case or bank (in this organisation)."""


class InvalidName(ValueError):
    """A name that is not allowed (path separators, control characters, length)."""


def check_slug(slug: str) -> str:
    """An organisation slug: lower-case letters, digits and inner hyphens, 1-64 long."""
    if not _SLUG.fullmatch(slug):
        raise InvalidName(
            f"organisation name {slug!r} must be 1-64 lower-case letters, digits or hyphens"
        )
    return slug


def create_org(session: Session, *, slug: str, name: str | None = None) -> Organisation:
    """A new organisation; its slug must be unused."""
    check_slug(slug)
    if session.scalar(select(Organisation).where(Organisation.slug == slug)) is not None:
        raise InvalidName(f"organisation {slug!r} already exists")
    org = Organisation(slug=slug, name=name or slug)
    session.add(org)
    session.flush()
    return org


def get_org(session: Session, *, slug: str | None = None) -> Organisation:
    """The named organisation, or the default one (created on first use)."""
    wanted = slug or DEFAULT_ORG
    org = session.scalar(select(Organisation).where(Organisation.slug == wanted))
    if org is None:
        if slug is not None and slug != DEFAULT_ORG:
            raise NotFound(f"no organisation {slug!r}")
        org = create_org(session, slug=DEFAULT_ORG, name="Default organisation")
    return org


def new_case_number() -> str:
    """A short, unambiguous public case number such as ``K7Q-4M2-XP9``."""
    chars = "".join(secrets.choice(CASE_ALPHABET) for _ in range(9))
    return f"{chars[:3]}-{chars[3:6]}-{chars[6:]}"


def open_case(session: Session, *, org: Organisation, actor: str, channel: str = "staff") -> Case:
    """A new case with a fresh number, its timeline opened with ``case.opened``."""
    while True:
        number = new_case_number()
        if session.scalar(select(Case.id).where(Case.number == number)) is None:
            break
    case = Case(org_id=org.id, number=number)
    session.add(case)
    session.flush()
    record_event(session, case=case, event=CaseOpened(actor=actor, channel=channel))
    return case


def get_case(session: Session, *, org: Organisation, number: str) -> Case:
    """The case with this number in ``org`` (another organisation's case is not found)."""
    case = session.scalar(
        select(Case).where(Case.org_id == org.id, Case.number == number.strip().upper())
    )
    if case is None:
        raise NotFound(f"no case {number!r}")
    return case


def record_event(session: Session, *, case: Case, event: CaseEvent) -> CaseEventRow:
    """Append ``event`` to the case timeline."""
    check_registered(event)
    seq = (
        session.scalar(select(func.max(CaseEventRow.seq)).where(CaseEventRow.case_id == case.id))
        or 0
    ) + 1
    row = CaseEventRow(
        case_id=case.id,
        seq=seq,
        name=event.name,
        actor=event.actor,
        created=event.created,
        data=event.data(),
    )
    session.add(row)
    session.flush()
    return row


def timeline(session: Session, *, case: Case) -> list[CaseEvent]:
    """The case's events in the order they happened."""
    rows = session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case.id).order_by(CaseEventRow.seq)
    )
    return [event_from_row(r.name, r.actor, r.created, r.data) for r in rows]


def record_consent(
    session: Session,
    *,
    case: Case,
    purpose: ConsentPurpose,
    granted: bool,
    actor: str,
    note: str = "",
) -> Consent:
    """Record the survivor's decision about ``purpose`` (a new row; history is kept)."""
    consent = Consent(
        case_id=case.id, purpose=purpose, granted=granted, recorded_by=actor, note=note
    )
    session.add(consent)
    session.flush()
    return consent


def consent_given(session: Session, *, case: Case, purpose: ConsentPurpose) -> Consent | None:
    """Her latest decision about ``purpose`` if it is a yes, else None."""
    latest = session.scalar(
        select(Consent)
        .where(Consent.case_id == case.id, Consent.purpose == purpose)
        .order_by(Consent.id.desc())
    )
    return latest if latest is not None and latest.granted else None
