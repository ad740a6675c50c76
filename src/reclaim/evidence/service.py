"""Capturing and sealing evidence, and keeping it: the steps in order, each recorded.

:class:`EvidenceDesk` captures a page (:mod:`reclaim.evidence.capture`), packages and
seals it (:mod:`reclaim.evidence.wacz`), stores the package encrypted under the case's
data key (:mod:`reclaim.store.blobs`) and appends ``captured`` and ``sealed`` to the
organisation's custody log -- all in one transaction, so a crash leaves either all of it
or none. A capture that fails is recorded with its reason and nothing else.

Confirmed sightings are captured without anyone asking (pages vanish):
:meth:`EvidenceDesk.capture_confirmed` finds confirmed sightings with no evidence yet (and
no failed attempt in the last hour) and captures each.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.cases.events import (
    CaseDataDestroyed,
    EvidenceSealed,
    LegalHoldPlaced,
    LegalHoldReleased,
)
from reclaim.cases.models import Case, Organisation
from reclaim.cases.service import record_event
from reclaim.config import Settings
from reclaim.evidence import custody
from reclaim.evidence.capture import Capturer
from reclaim.evidence.keys import signer
from reclaim.evidence.models import Evidence
from reclaim.evidence.wacz import package
from reclaim.monitor.errors import FetchFailed
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import Resolver, system_resolver
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.render import GuardedBrowser
from reclaim.store.base import utcnow
from reclaim.store.blobs import Blob, BlobStore, LegalHold, place_hold, release_hold
from reclaim.store.db import Database
from reclaim.store.envelope import MasterKey

log = logging.getLogger(__name__)

RETRY_FAILED_AFTER = timedelta(hours=1)
ANNOTATION_PREFIX = b"reclaim-annotation-v1\n"


class EvidenceDesk:
    """Captures, seals, stores and logs evidence. Close it to stop its browser."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        master: MasterKey,
        *,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._database = database
        self._master = master
        limits = FetchLimits.from_settings(settings)
        self._fetcher = Fetcher(limits, resolver=resolver)
        self._browser = GuardedBrowser(
            limits,
            resolver=resolver,
            executable=settings.chromium_path,
            timeout=settings.capture_timeout,
            max_bytes=settings.capture_max_bytes,
        )
        self._capturer = Capturer(self._browser, self._fetcher)
        self.blobs = BlobStore(Path(settings.data_dir) / "blobs", master)

    def __enter__(self) -> EvidenceDesk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._browser.close()
        self._fetcher.close()

    def capture(
        self,
        *,
        org_id: int,
        url: str,
        actor: str,
        case_id: int | None = None,
        sighting_id: int | None = None,
        media_urls: tuple[str, ...] = (),
    ) -> Evidence:
        """Capture ``url`` and keep it as sealed evidence (or record why it failed). For a
        case concerning a minor, no picture or video is kept."""
        with self._database.session() as session:
            case = session.get(Case, case_id) if case_id is not None else None
            redact = case is not None and case.minor
        try:
            capture = self._capturer.capture(url, media_urls, redact=redact)
        except FetchFailed as error:
            log.info("capture of %s failed: %s", url, error)
            with self._database.session() as session:
                failed = Evidence(
                    org_id=org_id,
                    case_id=case_id,
                    sighting_id=sighting_id,
                    url=url,
                    status="failed",
                    error=str(error)[:2000],
                )
                session.add(failed)
                session.flush()
                return failed
        with self._database.session() as session:
            org = session.get(Organisation, org_id)
            if org is None:
                raise LookupError(f"no organisation {org_id}")
            case = session.get(Case, case_id) if case_id is not None else None
            number = case.number if case is not None else None
            sealed = package(capture, signer(session, org=org, master=self._master), case=number)
            blob = self.blobs.put(
                session, org_id=org.id, case_id=case_id, kind="evidence", data=sealed.data
            )
            evidence = Evidence(
                org_id=org.id,
                case_id=case_id,
                sighting_id=sighting_id,
                url=url,
                final_url=capture.final_url,
                title=capture.title[:1000],
                status="sealed",
                captured=capture.captured_at,
                blob_id=blob.id,
                package_sha256=sealed.sha256,
                datapackage_hash=sealed.datapackage_hash,
                key_id=sealed.key_id,
                signature=sealed.signature,
            )
            session.add(evidence)
            session.flush()
            common = {"evidence": evidence.id, "case": number, "url": url}
            custody.append(
                session,
                org=org,
                event="captured",
                actor=actor,
                when=capture.captured_at,
                details={
                    **common,
                    "final_url": capture.final_url,
                    "server_address": capture.address,
                    "exchanges": capture.exchanges,
                    "media": [m.get("sha256") for m in capture.media],
                },
            )
            entry = custody.append(
                session,
                org=org,
                event="sealed",
                actor=actor,
                details={
                    **common,
                    "package_sha256": sealed.sha256,
                    "datapackage": sealed.datapackage_hash,
                    "key_id": sealed.key_id,
                    "signature": sealed.signature.hex(),
                },
            )
            evidence.log_position = entry.position
            if case is not None:
                site = urlsplit(capture.final_url).hostname or ""
                record_event(
                    session,
                    case=case,
                    event=EvidenceSealed(actor=actor, evidence=evidence.id, site=site),
                )
            return evidence

    def capture_confirmed(self, *, actor: str = "evidence") -> list[Evidence]:
        """Capture every confirmed sighting that has no evidence yet."""
        with self._database.session() as session:
            due = _confirmed_without_evidence(session)
        return [
            self.capture(
                org_id=sighting.org_id,
                url=sighting.page_url,
                actor=actor,
                case_id=sighting.case_id,
                sighting_id=sighting.id,
                media_urls=(sighting.media_url,),
            )
            for sighting in due
        ]

    def package_bytes(self, evidence: Evidence) -> bytes:
        """The sealed package of ``evidence``, decrypted."""
        with self._database.session() as session:
            if evidence.blob_id is None:
                raise LookupError(f"evidence {evidence.id} has no package ({evidence.status})")
            blob = session.get(Blob, evidence.blob_id)
            if blob is None:
                raise LookupError(f"the package of evidence {evidence.id} is gone")
            return self.blobs.read(session, blob)


def _confirmed_without_evidence(session: Session) -> list[Sighting]:
    recent_failure = utcnow() - RETRY_FAILED_AFTER
    sealed = select(Evidence.sighting_id).where(
        Evidence.sighting_id.is_not(None),
        (Evidence.status == "sealed") | (Evidence.captured > recent_failure),
    )
    return list(
        session.scalars(
            select(Sighting)
            .where(Sighting.status == SightingStatus.CONFIRMED, Sighting.id.not_in(sealed))
            .order_by(Sighting.id)
        )
    )


def list_evidence(
    session: Session, *, org: Organisation, case: Case | None = None
) -> list[Evidence]:
    query = select(Evidence).where(Evidence.org_id == org.id)
    if case is not None:
        query = query.where(Evidence.case_id == case.id)
    return list(session.scalars(query.order_by(Evidence.id)))


def hold_case(
    session: Session, *, org: Organisation, case: Case, actor: str, reason: str
) -> LegalHold:
    """Place a legal hold on the case's data (logged as ``held``)."""
    hold = place_hold(session, case_id=case.id, actor=actor, reason=reason)
    custody.append(
        session, org=org, event="held", actor=actor, details={"case": case.number, "reason": reason}
    )
    record_event(session, case=case, event=LegalHoldPlaced(actor=actor, reason=reason))
    return hold


def release_case(session: Session, *, org: Organisation, case: Case, actor: str) -> None:
    """Release the case's legal hold (logged as ``released``)."""
    if release_hold(session, case_id=case.id, actor=actor) is not None:
        custody.append(
            session, org=org, event="released", actor=actor, details={"case": case.number}
        )
        record_event(session, case=case, event=LegalHoldReleased(actor=actor))


def destroy_case_data(
    session: Session, *, org: Organisation, case: Case, blobs: BlobStore, actor: str
) -> int:
    """Crypto-shred the case's stored files at the survivor's request (refused under a
    legal hold); the custody log records it (``deleted``) and keeps every hash."""
    count = blobs.shred(session, case_id=case.id)
    custody.append(
        session,
        org=org,
        event="deleted",
        actor=actor,
        details={"case": case.number, "files": count, "why": "the survivor's request"},
    )
    record_event(session, case=case, event=CaseDataDestroyed(actor=actor, files=count))
    return count


def annotate(
    session: Session,
    *,
    org: Organisation,
    evidence: Evidence,
    actor: str,
    text: str,
    master: MasterKey,
) -> custody.Appended:
    """Add a note to sealed evidence without touching it: a new record, signed by the
    organisation's key, that names the package it refers to (logged as ``annotated``)."""
    if evidence.status != "sealed" or evidence.package_sha256 is None:
        raise ValueError(f"evidence {evidence.id} is not sealed: there is nothing to annotate")
    if not text.strip():
        raise ValueError("an annotation needs its text")
    note = {
        "evidence": evidence.id,
        "refers_to": evidence.package_sha256,
        "text": text.strip(),
        "by": actor,
        "at": utcnow().isoformat(),
    }
    key = signer(session, org=org, master=master)
    signature = key.sign(ANNOTATION_PREFIX + custody.canonical(note))
    return custody.append(
        session,
        org=org,
        event="annotated",
        actor=actor,
        details={"annotation": note, "key_id": key.key_id, "signature": signature.hex()},
    )


def record_view(
    session: Session, *, org: Organisation, evidence: Evidence, actor: str, what: str
) -> custody.Appended:
    """Log that a person revealed evidence media (``what``: the screenshot, a file)."""
    case = session.get(Case, evidence.case_id) if evidence.case_id is not None else None
    return custody.append(
        session,
        org=org,
        event="viewed",
        actor=actor,
        details={"evidence": evidence.id, "case": case.number if case else None, "what": what},
    )
