"""Registering by hashes: what the survivor's browser sends becomes a case.

Her browser sends, per file, only signals (PDQ with its quality, grid and anchored regions;
vPDQ frames; SHA-256 and MD5) -- never the file, never its name. Everything is validated
as if it were forged, because it may be: each signal by its type's own parser, at most
``case_item_limit`` files per case, at most :data:`MAX_SIGNALS` signals per file, and
every file needs a hash that can match (PDQ, vPDQ or SHA-256). One bad file refuses the
whole submission with its number, so she can fix it and nothing half-registered remains.

A new case gets a number, a passphrase and a recovery code (shown to her once), her
consents per purpose, and whether she was under 18 when filmed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reclaim.banks import service as banks
from reclaim.banks.models import Bank, BankItem
from reclaim.cases import service as cases
from reclaim.cases.access import Access, Issued
from reclaim.cases.models import Case, ConsentPurpose, Organisation
from reclaim.config import Settings
from reclaim.signals.base import HashFormatError, Signal, UnknownSignalType
from reclaim.signals.registry import signal_from_json
from reclaim.store.envelope import MasterKey
from reclaim.survivor.notify import set_contact
from reclaim.takedown.workflow import NotReady

BANK = "survivors"
"""The bank a portal's registrations go to (made on first use)."""
MAX_SIGNALS = 8
MATCHABLE = frozenset({"pdq", "vpdq", "sha256"})
ACTOR = "survivor"


class InvalidSubmission(ValueError):
    """What was sent is not a valid registration (the message says which file and why)."""


class InvalidAddress(InvalidSubmission):
    """The address she gave for news is not an e-mail address."""


@dataclass(frozen=True, slots=True)
class Contact:
    """Where to tell her there is news, in which language, and the key that seals it."""

    address: str
    language: str
    master: MasterKey


@dataclass(frozen=True, slots=True)
class Submitted:
    """One file, as hashes."""

    kind: str
    """``image`` or ``video``."""
    signals: tuple[Signal, ...]


def parse_files(payload: object, *, limit: int) -> list[Submitted]:
    """The files of a submission (``[{"kind": ..., "signals": [...]}, ...]``), validated."""
    if not isinstance(payload, list) or not payload:
        raise InvalidSubmission("send at least one file's hashes")
    if len(payload) > limit:
        raise InvalidSubmission(f"at most {limit} files at once")
    return [_file(number, entry) for number, entry in enumerate(payload, start=1)]


def _file(number: int, entry: object) -> Submitted:
    if not isinstance(entry, Mapping):
        raise InvalidSubmission(f"file {number}: not an object")
    kind = entry.get("kind")
    if kind not in ("image", "video"):
        raise InvalidSubmission(f"file {number}: kind must be image or video")
    raw = entry.get("signals")
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_SIGNALS:
        raise InvalidSubmission(f"file {number}: 1 to {MAX_SIGNALS} signals")
    signals = []
    for data in raw:
        try:
            signals.append(signal_from_json(data))
        except (HashFormatError, UnknownSignalType, ValueError, TypeError) as error:
            raise InvalidSubmission(f"file {number}: {error}") from None
    types = [s.type for s in signals]
    if len(set(types)) != len(types):
        raise InvalidSubmission(f"file {number}: a signal type appears twice")
    if not MATCHABLE & set(types):
        raise InvalidSubmission(f"file {number}: needs a PDQ, vPDQ or SHA-256 hash")
    return Submitted(kind=str(kind), signals=tuple(signals))


def register(
    session: Session,
    *,
    org: Organisation,
    files: Sequence[Submitted],
    consents: Mapping[ConsentPurpose, bool],
    minor: bool,
    access: Access,
    settings: Settings,
    contact: Contact | None = None,
) -> Issued:
    """Open a case for these files in ``org`` and issue its secrets; keep her address for
    news messages when she gave one (encrypted; ``InvalidSubmission`` if it is not one)."""
    case = cases.open_case(session, org=org, actor=ACTOR, channel="portal")
    case.minor = minor
    add_files(session, case=case, files=files, settings=settings)
    if contact is not None:
        try:
            set_contact(
                session, case=case, address=contact.address, language=contact.language,
                master=contact.master,
            )  # fmt: skip
        except NotReady as error:
            raise InvalidAddress(str(error)) from None
    for purpose in ConsentPurpose:
        cases.record_consent(
            session, case=case, purpose=purpose, granted=bool(consents.get(purpose)), actor=ACTOR
        )
    return access.issue(session, case=case)


def add_files(
    session: Session, *, case: Case, files: Sequence[Submitted], settings: Settings
) -> int:
    """Bank more of her files in her case (within the case's limit); how many."""
    org = session.get(Organisation, case.org_id)
    assert org is not None
    bank = _bank(session, org)
    start = case_items(session, case)
    items = [
        banks.NewItem(signals=list(f.signals), label=f"{f.kind} {start + n}", source="portal")
        for n, f in enumerate(files, start=1)
    ]
    try:
        banks.add_items(
            session, bank=bank, items=items, actor=ACTOR, case=case,
            case_limit=settings.case_item_limit,
        )  # fmt: skip
    except banks.LimitExceeded as error:
        raise InvalidSubmission(str(error)) from None
    return len(items)


def case_items(session: Session, case: Case) -> int:
    """How many files her case holds (withdrawn ones included: numbering goes on)."""
    return int(session.scalar(select(func.count()).where(BankItem.case_id == case.id)) or 0)


def _bank(session: Session, org: Organisation) -> Bank:
    try:
        return banks.get_bank(session, org=org, name=BANK)
    except cases.NotFound:
        return banks.create_bank(session, org=org, name=BANK)


def consents_from(payload: Mapping[str, Any]) -> dict[ConsentPurpose, bool]:
    """Her answers per purpose (missing means no)."""
    answers: dict[ConsentPurpose, bool] = {}
    for purpose in ConsentPurpose:
        value = payload.get(purpose.value, False)
        if not isinstance(value, bool):
            raise InvalidSubmission(f"consent {purpose.value}: yes or no")
        answers[purpose] = value
    return answers
