"""The demo's survivor: her originals registered by their hashes, as a case."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from reclaim.banks import service as banks
from reclaim.cases import service as cases
from reclaim.cases.models import Case
from reclaim.signals.filehash import HashRequest, hash_file

ORIGINALS = ("photo-1.jpg", "photo-2.jpg", "photo-3.jpg", "clip.mp4")
"""The files of ``reclaim demo media`` that the demo forum serves altered copies of."""
BANK = "survivors"


def register_originals(session: Session, *, folder: Path, actor: str) -> Case:
    """Open a case in the default organisation and bank the originals in ``folder`` for
    it (the bank is created if missing), as a survivor's registration would."""
    org = cases.get_org(session)
    case = cases.open_case(session, org=org, actor=actor, channel="portal")
    try:
        bank = banks.get_bank(session, org=org, name=BANK)
    except cases.NotFound:
        bank = banks.create_bank(session, org=org, name=BANK)
    items = [
        banks.NewItem(hash_file(HashRequest(str(folder / name))).signals, name, "demo")
        for name in ORIGINALS
    ]
    banks.add_items(session, bank=bank, items=items, actor=actor, case=case)
    return case
