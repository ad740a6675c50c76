"""A survivor's withdrawal: everything Reclaim does for her stops, and what can go, goes.

In one transaction:

- every banked item of her case is withdrawn **with its hashes deleted** -- matching stops
  at once (the matchers follow the change log), platforms syncing the banks receive the
  withdrawal, and only the record that an item existed and was withdrawn remains;
- every notice that has not gone out is cancelled, every evidence export still waiting
  for approval turned down;
- her stored files (captures) are crypto-shredded -- unless a person placed a recorded
  legal hold for an open police case, which she is told about (the hold's reason is on her
  timeline), in which case they are kept; the desk's notes on her case go with them;
- her consents are recorded as withdrawn, the case is marked withdrawn, and every session
  signed in to it ends, and the address for news messages is deleted.

The custody log keeps its hashes either way: that is what makes the evidence that already
went to the police verifiable.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks import service as banks
from reclaim.banks.models import Bank, BankItem, ItemStatus
from reclaim.cases.models import Case, CaseStatus, ConsentPurpose, Organisation
from reclaim.cases.notes import delete_case_notes
from reclaim.cases.service import consent_given, record_consent
from reclaim.cases.sessions import close_case_sessions
from reclaim.evidence import requests as exports
from reclaim.evidence.service import destroy_case_data
from reclaim.store.blobs import BlobStore, active_hold
from reclaim.survivor.notify import forget_contact
from reclaim.takedown import service as takedown


@dataclass(frozen=True, slots=True)
class Withdrawn:
    items: int
    """Banked items withdrawn (hashes deleted)."""
    notices: int
    """Notices cancelled before they went out."""
    files: int
    """Stored files destroyed (0 under a legal hold)."""
    held: bool
    """A legal hold kept her stored files."""


def withdraw_case(session: Session, *, case: Case, blobs: BlobStore, actor: str) -> Withdrawn:
    """Withdraw ``case`` (again is harmless: nothing is left to do). Once the session has
    committed, the caller records it in the ledger (:mod:`reclaim.survivor.ledger`)."""
    org = session.get(Organisation, case.org_id)
    assert org is not None
    items = _withdraw_items(session, case, actor)
    notices = takedown.withdraw_case(session, case=case, actor=actor)
    exports.withdraw_case(session, case=case, actor=actor)
    held = active_hold(session, case_id=case.id) is not None
    files = 0 if held else destroy_case_data(session, org=org, case=case, blobs=blobs, actor=actor)
    if not held:
        delete_case_notes(session, case=case)
    for purpose in ConsentPurpose:
        if consent_given(session, case=case, purpose=purpose) is not None:
            record_consent(
                session, case=case, purpose=purpose, granted=False, actor=actor,
                note="withdrawn with the case",
            )  # fmt: skip
    case.status = CaseStatus.WITHDRAWN
    close_case_sessions(session, case_id=case.id)
    forget_contact(session, case_id=case.id)
    session.flush()
    return Withdrawn(items=items, notices=notices, files=files, held=held)


def _withdraw_items(session: Session, case: Case, actor: str) -> int:
    rows = session.execute(
        select(BankItem.public_id, Bank)
        .join(Bank, Bank.id == BankItem.bank_id)
        .where(BankItem.case_id == case.id, BankItem.status != ItemStatus.WITHDRAWN)
        .order_by(BankItem.id)
    ).all()
    for public_id, bank in rows:
        banks.withdraw_item(
            session,
            bank=bank,
            public_id=public_id,
            actor=actor,
            reason="the survivor withdrew",
            delete_hashes=True,
        )
    return len(rows)
