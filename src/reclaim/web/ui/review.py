"""Trauma-informed review: a sighting's match evidence beside the banked item's hashes, the
media veiled (greyscale, blurred beyond recognition) until a person explicitly reveals
one item; every reveal is in the audit log, and for evidence media in the custody log.

A revealed picture goes out once, inside the answer to the reveal itself (a ``data:``
image, ``no-store``): there is no address that shows it again without a new, logged
reveal. Cases concerning minors show no media at all; auditors never reveal.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks.models import BankItem
from reclaim.cases import audit
from reclaim.cases.models import Case
from reclaim.cases.roles import EVERYONE, REVEALERS
from reclaim.evidence.export import facts_and_screenshot
from reclaim.evidence.models import Evidence
from reclaim.evidence.service import record_view
from reclaim.media.thumbnail import blurred_preview
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.sightings import review_sighting, thumbnail_of
from reclaim.store.blobs import Blob, BlobError
from reclaim.web.ui.guard import PREFIX, Staff, note, org_of, page, refusal, render, state

DECISIONS = {"confirm": SightingStatus.CONFIRMED, "reject": SightingStatus.REJECTED}
NO_PREVIEW = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120" viewBox="0 0 160 120">'
    b'<rect width="160" height="120" fill="#d0d0d0"/></svg>'
)


def own_sighting(session: Session, staff: Staff, sighting_id: int) -> Sighting:
    sighting = session.get(Sighting, sighting_id)
    if sighting is None or sighting.org_id != staff.org_id:
        raise LookupError(f"no sighting {sighting_id}")
    return sighting


def own_evidence(session: Session, staff: Staff, evidence_id: int) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None or evidence.org_id != staff.org_id:
        raise LookupError(f"no evidence {evidence_id}")
    return evidence


def _minor(session: Session, case_id: int | None) -> bool:
    case = session.get(Case, case_id) if case_id is not None else None
    return bool(case and case.minor)


def _exposure(request: Request, staff: Staff) -> int:
    ui = state(request)
    with ui.database.session() as session:
        return audit.exposure_today(session, user_id=staff.user_id, zone=ui.settings.staff_timezone)


def _image(data: bytes, kind: str = "image/jpeg") -> Response:
    return Response(data, media_type=kind, headers={"cache-control": "no-store"})


@page("GET", "/review", EVERYONE)
def review_queue(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    """The next sighting waiting for review (after ``after``, for skipping)."""
    after = request.query_params.get("after", "0")
    ui = state(request)
    with ui.database.session() as session:
        query = select(Sighting.id).where(
            Sighting.org_id == staff.org_id,
            Sighting.status.in_((SightingStatus.NEW, SightingStatus.UNDER_REVIEW)),
        )
        if after.isdigit():
            query = query.where(Sighting.id > int(after))
        next_id = session.scalar(query.order_by(Sighting.id).limit(1))
    if next_id is None:
        return render(request, "review_done.html", staff=staff, exposure=_exposure(request, staff))
    return RedirectResponse(f"{PREFIX}/sightings/{next_id}", status_code=303)


def _sighting_context(session: Session, staff: Staff, sighting: Sighting) -> dict[str, Any]:
    item = session.get(BankItem, sighting.item_id)
    signals = list(item.signals) if item is not None else []
    minor = _minor(session, sighting.case_id)
    evidence = list(
        session.scalars(
            select(Evidence).where(Evidence.sighting_id == sighting.id).order_by(Evidence.id)
        )
    )
    context = {
        "sighting": sighting,
        "item": item,
        "signals": signals,
        "match": {k: v for k, v in sighting.match.items() if k not in ("bank",)},
        "minor": minor,
        "evidence": evidence,
        "has_thumbnail": sighting.thumbnail_blob_id is not None and not minor,
        "can_review": staff.role in REVEALERS,
        "can_reveal": staff.role in REVEALERS and not minor,
    }
    session.expunge_all()
    return context


@page("GET", "/sightings/{sighting_id:int}", EVERYONE)
def sighting_page(
    request: Request, staff: Staff, form: dict[str, str], sighting_id: int
) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        context = _sighting_context(session, staff, own_sighting(session, staff, sighting_id))
    return render(
        request,
        "sighting.html",
        staff=staff,
        revealed=None,
        exposure=_exposure(request, staff),
        **context,
    )


@page("GET", "/sightings/{sighting_id:int}/preview", EVERYONE)
def sighting_preview(
    request: Request, staff: Staff, form: dict[str, str], sighting_id: int
) -> Response:
    """The veiled preview: greyscale and blurred beyond recognition (nothing for minors)."""
    ui = state(request)
    with ui.database.session() as session:
        sighting = own_sighting(session, staff, sighting_id)
        if _minor(session, sighting.case_id) or ui.blobs is None:
            return _image(NO_PREVIEW, "image/svg+xml")
        data = thumbnail_of(session, sighting=sighting, blobs=ui.blobs)
    if data is None:
        return _image(NO_PREVIEW, "image/svg+xml")
    return _image(blurred_preview(data))


def _revealed(
    request: Request, staff: Staff, template: str, data_uri: str, **context: Any
) -> Response:
    fragment = bool(request.headers.get("hx-request"))
    return render(
        request,
        "_revealed.html" if fragment else template,
        staff=staff,
        revealed=data_uri,
        exposure=_exposure(request, staff),
        **context,
    )


def _data_uri(data: bytes, kind: str) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


@page("POST", "/sightings/{sighting_id:int}/reveal", REVEALERS)
def sighting_reveal(
    request: Request, staff: Staff, form: dict[str, str], sighting_id: int
) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        sighting = own_sighting(session, staff, sighting_id)
        if _minor(session, sighting.case_id):
            return refusal(request, staff, 403, "minor")
        data = thumbnail_of(session, sighting=sighting, blobs=ui.blobs) if ui.blobs else None
        if data is None:
            return refusal(request, staff, 409, "no_media")
        note(session, staff, audit.REVEAL, f"sighting:{sighting.id}", what="thumbnail")
        context = _sighting_context(session, staff, sighting)
    return _revealed(request, staff, "sighting.html", _data_uri(data, "image/jpeg"), **context)


@page("POST", "/sightings/{sighting_id:int}/review", REVEALERS)
def sighting_review(
    request: Request, staff: Staff, form: dict[str, str], sighting_id: int
) -> Response:
    """Confirm, reject or skip; then on to the next one."""
    decision = form.get("decision", "")
    ui = state(request)
    with ui.database.session() as session:
        sighting = own_sighting(session, staff, sighting_id)
        if decision in DECISIONS:
            org = org_of(session, staff)
            review_sighting(
                session,
                org=org,
                sighting_id=sighting.id,
                status=DECISIONS[decision],
                actor=staff.email,
            )
            note(session, staff, f"sighting_{DECISIONS[decision].value}", f"sighting:{sighting.id}")
        elif decision != "skip":
            return refusal(request, staff, 400, "form")
    return RedirectResponse(f"{PREFIX}/review?after={sighting_id}", status_code=303)


@page("GET", "/evidence/{evidence_id:int}", EVERYONE)
def evidence_page(
    request: Request, staff: Staff, form: dict[str, str], evidence_id: int
) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        evidence = own_evidence(session, staff, evidence_id)
        minor = _minor(session, evidence.case_id)
        session.expunge(evidence)
    return render(
        request,
        "evidence.html",
        staff=staff,
        evidence=evidence,
        minor=minor,
        revealed=None,
        can_reveal=staff.role in REVEALERS and not minor and evidence.blob_id is not None,
        exposure=_exposure(request, staff),
    )


@page("POST", "/evidence/{evidence_id:int}/reveal", REVEALERS)
def evidence_reveal(
    request: Request, staff: Staff, form: dict[str, str], evidence_id: int
) -> Response:
    """Reveal the capture's screenshot: in the audit log and the custody log."""
    ui = state(request)
    with ui.database.session() as session:
        evidence = own_evidence(session, staff, evidence_id)
        minor = _minor(session, evidence.case_id)
        blob = session.get(Blob, evidence.blob_id) if evidence.blob_id is not None else None
        if minor or blob is None or ui.blobs is None:
            return refusal(request, staff, 409, "no_media")
        try:
            _, screenshot = facts_and_screenshot(ui.blobs.read(session, blob))
        except BlobError:  # shredded at her request, or lost
            screenshot = None
        if screenshot is None:
            return refusal(request, staff, 409, "no_media")
        org = org_of(session, staff)
        record_view(session, org=org, evidence=evidence, actor=staff.email, what="screenshot")
        note(session, staff, audit.REVEAL, f"evidence:{evidence.id}", what="screenshot")
        session.expunge(evidence)
    return _revealed(
        request,
        staff,
        "evidence.html",
        _data_uri(screenshot, "image/png"),
        evidence=evidence,
        minor=False,
        can_reveal=True,
    )
