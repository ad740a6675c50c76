"""Sightings: banked items the monitor found on the web, one per item, file and URL.

The same file at the same address is one sighting however often it is met (its
``last_seen`` moves on); the same file at another address, or another banked item in the
same file, is another sighting. A new sighting of an item that belongs to a case adds
``sighting.found`` to the case's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks.models import BankItem
from reclaim.cases.events import SightingFound, SightingReviewed
from reclaim.cases.models import Case, Organisation
from reclaim.cases.service import record_event
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.traps import url_key
from reclaim.store.upsert import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class Seen:
    """Where and when a banked item was met, and the matcher's evidence."""

    item: BankItem
    page_url: str
    media_url: str
    media_sha256: str
    match: dict[str, Any]
    when: datetime
    source_id: int | None = None


def record_sighting(session: Session, *, org: Organisation, seen: Seen) -> tuple[Sighting, bool]:
    """The sighting for ``seen`` (created, or its ``last_seen`` moved on) and whether it
    is new."""
    key = url_key(seen.media_url)
    mine = (
        Sighting.item_id == seen.item.id,
        Sighting.media_sha256 == seen.media_sha256,
        Sighting.media_url_key == key,
    )
    row = {
        "org_id": org.id,
        "case_id": seen.item.case_id,
        "item_id": seen.item.id,
        "source_id": seen.source_id,
        "page_url": seen.page_url,
        "media_url": seen.media_url,
        "media_url_key": key,
        "media_sha256": seen.media_sha256,
        "match": seen.match,
        "first_seen": seen.when,
        "last_seen": seen.when,
        "status": SightingStatus.NEW,
    }
    # Two workers meeting the same file at the same URL at once make one sighting.
    created = insert_ignoring_conflicts(session, Sighting, [row])
    sighting = session.scalars(select(Sighting).where(*mine)).one()
    if not created:
        sighting.last_seen = max(sighting.last_seen, seen.when)
        session.flush()
        return sighting, False
    if seen.item.case_id is not None:
        case = session.get(Case, seen.item.case_id)
        if case is not None:
            site = urlsplit(seen.page_url).hostname or ""
            record_event(
                session,
                case=case,
                event=SightingFound(actor="monitor", sighting=sighting.id, site=site),
            )
    return sighting, True


def review_sighting(
    session: Session, *, org: Organisation, sighting_id: int, status: SightingStatus, actor: str
) -> Sighting:
    """Set a sighting's review status (never back to ``new``); the case timeline records
    each change. ``LookupError`` for another organisation's sighting."""
    sighting = session.get(Sighting, sighting_id)
    if sighting is None or sighting.org_id != org.id:
        raise LookupError(f"no sighting {sighting_id}")
    if status is SightingStatus.NEW:
        raise ValueError("a sighting cannot be made new again")
    if sighting.status is status:
        return sighting
    sighting.status = status
    session.flush()
    if sighting.case_id is not None:
        case = session.get(Case, sighting.case_id)
        if case is not None:
            event = SightingReviewed(actor=actor, sighting=sighting.id, status=status.value)
            record_event(session, case=case, event=event)
    return sighting


def list_sightings(
    session: Session, *, org: Organisation, case: Case | None = None
) -> list[Sighting]:
    """The organisation's sightings (of one case, if given), oldest first."""
    query = select(Sighting).where(Sighting.org_id == org.id)
    if case is not None:
        query = query.where(Sighting.case_id == case.id)
    return list(session.scalars(query.order_by(Sighting.id)))


def sighting_json(sighting: Sighting, case_number: str | None) -> dict[str, Any]:
    """The JSON form ``reclaim sightings --json`` prints."""
    return {
        "id": sighting.id,
        "case": case_number,
        "page_url": sighting.page_url,
        "media_url": sighting.media_url,
        "media_sha256": sighting.media_sha256,
        "first_seen": sighting.first_seen.isoformat(),
        "last_seen": sighting.last_seen.isoformat(),
        "status": sighting.status.value,
        "match": sighting.match,
    }
