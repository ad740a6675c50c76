"""Sightings: banked items the monitor found on the web, one per item, file and URL.

The same file at the same address is one sighting however often it is met (its
``last_seen`` moves on); the same file at another address, or another banked item in the
same file, is another sighting. A new sighting of an item that belongs to a case adds
``sighting.found`` to the case's timeline.

A sighting of a case may keep a thumbnail of the media, encrypted with the case's data key
(so a withdrawal shreds it with the rest); a sighting of no case, or of a minor's case,
never does. Sightings of the same file in one case share one thumbnail.
"""

from __future__ import annotations

import logging
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
from reclaim.store.blobs import Blob, BlobError, BlobStore, DataKey, Shredded
from reclaim.store.envelope import KeyProblem
from reclaim.store.upsert import insert_ignoring_conflicts

log = logging.getLogger(__name__)

THUMBNAIL_KIND = "thumbnail"


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


def thumbnail_wanted(session: Session, *, sighting: Sighting) -> bool:
    """Whether ``sighting`` may keep a thumbnail: it belongs to a case, not a minor's."""
    if sighting.case_id is None:
        return False
    case = session.get(Case, sighting.case_id)
    return case is not None and not case.minor


def reuse_thumbnail(session: Session, *, sighting: Sighting) -> bool:
    """Give ``sighting`` the thumbnail another sighting of the same file in its case has
    (one not shredded); whether there was one."""
    if sighting.case_id is None:
        return False
    blob_id = session.scalar(
        select(Sighting.thumbnail_blob_id)
        .join(Blob, Blob.id == Sighting.thumbnail_blob_id)
        .join(DataKey, DataKey.id == Blob.data_key_id)
        .where(
            Sighting.case_id == sighting.case_id,
            Sighting.media_sha256 == sighting.media_sha256,
            Sighting.id != sighting.id,
            Blob.case_id == sighting.case_id,
            DataKey.wrapped.is_not(None),
        )
        .order_by(Sighting.id)
        .limit(1)
    )
    if blob_id is None:
        return False
    sighting.thumbnail_blob_id = blob_id
    session.flush()
    return True


def store_thumbnail(session: Session, *, sighting: Sighting, blobs: BlobStore, data: bytes) -> Blob:
    """Encrypt ``data`` as the thumbnail of ``sighting`` among its case's blobs.

    ``ValueError`` for a sighting that may keep none; :class:`BlobError` (``Shredded``
    for a withdrawn case) or ``KeyProblem`` when it cannot be stored."""
    if not thumbnail_wanted(session, sighting=sighting):
        raise ValueError(f"sighting {sighting.id} keeps no thumbnail (no case, or a minor's)")
    blob = blobs.put(
        session, org_id=sighting.org_id, case_id=sighting.case_id, kind=THUMBNAIL_KIND, data=data
    )
    sighting.thumbnail_blob_id = blob.id
    session.flush()
    return blob


def keep_thumbnail(
    session: Session, *, sighting_ids: list[int], blobs: BlobStore, data: bytes
) -> int:
    """Keep ``data`` as the thumbnail of each sighting that may keep one, one blob per case
    (a sighting of the file in the case that has one already shares it); how many have it.

    A case whose data cannot be written (withdrawn, or the key is wrong) is logged and
    skipped: a thumbnail is never worth an error."""
    kept = 0
    for sighting_id in sighting_ids:
        sighting = session.get(Sighting, sighting_id)
        if sighting is None or not thumbnail_wanted(session, sighting=sighting):
            continue
        if sighting.thumbnail_blob_id is not None or reuse_thumbnail(session, sighting=sighting):
            kept += 1
            continue
        try:
            store_thumbnail(session, sighting=sighting, blobs=blobs, data=data)
        except (BlobError, KeyProblem, OSError) as error:
            log.info("sighting %d keeps no thumbnail: %s", sighting.id, error)
            continue
        kept += 1
    return kept


def thumbnail_of(session: Session, *, sighting: Sighting, blobs: BlobStore) -> bytes | None:
    """The decrypted thumbnail of ``sighting``: None when it has none or it was shredded
    (or its file is lost or altered, which is logged), and for a case marked a minor's
    after the thumbnail was kept. Raises ``KeyProblem`` when ``blobs`` has no master key
    to read a thumbnail that exists."""
    if sighting.thumbnail_blob_id is None or not thumbnail_wanted(session, sighting=sighting):
        return None
    blob = session.get(Blob, sighting.thumbnail_blob_id)
    if blob is None or blob.case_id != sighting.case_id or blob.org_id != sighting.org_id:
        return None
    try:
        return blobs.read(session, blob)
    except Shredded:
        return None
    except BlobError as error:
        log.warning("the thumbnail of sighting %d cannot be read: %s", sighting.id, error)
        return None


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
