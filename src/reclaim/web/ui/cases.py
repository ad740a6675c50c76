"""Cases: the list with its filters, one case's page, opening a case for a survivor who
phoned in, notes, URLs she found, drafting notices, asking for an evidence export."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from reclaim.banks.models import BankItem, ItemStatus
from reclaim.cases import service as cases
from reclaim.cases.access import Access
from reclaim.cases.models import Case, CaseEventRow, CaseStatus, ConsentPurpose
from reclaim.cases.notes import add_note, case_notes
from reclaim.cases.roles import CASE_WORKERS, EVERYONE, REVEALERS
from reclaim.evidence.export import ExportRefused
from reclaim.evidence.models import Evidence
from reclaim.evidence.requests import (
    REQUESTERS,
    ExportNotAllowed,
    ExportRequest,
    request_export,
)
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.service import SourceRefused, add_source
from reclaim.store.base import utcnow
from reclaim.takedown import service as takedown
from reclaim.takedown.models import Notice, NoticeState
from reclaim.takedown.workflow import TakedownError
from reclaim.web.ui.guard import PREFIX, Staff, note, org_of, page, refusal, render, state

FILTERS = ("open", "new_sightings", "waiting_approval", "overdue", "closed", "withdrawn", "all")
MAX_URLS = 50
WAITING = (NoticeState.SENT, NoticeState.ACKNOWLEDGED)


def own_case(session: Session, staff: Staff, case_id: int) -> Case:
    """The case, if it is the person's organisation's; :class:`LookupError` otherwise."""
    case = session.get(Case, case_id)
    if case is None or case.org_id != staff.org_id:
        raise LookupError(f"no case {case_id}")
    return case


def _case_query(staff: Staff, shown: str) -> Any:
    query = select(Case).where(Case.org_id == staff.org_id)
    now = utcnow()
    if shown == "open":
        query = query.where(Case.status == CaseStatus.OPEN)
    elif shown in ("closed", "withdrawn"):
        query = query.where(Case.status == CaseStatus(shown))
    elif shown == "new_sightings":
        query = query.where(
            exists().where(Sighting.case_id == Case.id, Sighting.status == SightingStatus.NEW)
        )
    elif shown == "waiting_approval":
        query = query.where(
            exists().where(Notice.case_id == Case.id, Notice.state == NoticeState.DRAFTED)
            | exists().where(ExportRequest.case_id == Case.id, ExportRequest.state == "requested")
        )
    elif shown == "overdue":
        query = query.where(
            exists().where(
                Notice.case_id == Case.id,
                Notice.state.in_(WAITING),
                Notice.escalate_after.is_not(None),
                Notice.escalate_after < now,
            )
        )
    return query.order_by(Case.id.desc()).limit(500)


def _counts(session: Session, model: Any, column: Any, where: Any) -> dict[int, int]:
    rows = session.execute(select(column, func.count()).where(where).group_by(column))
    return {int(key): int(count) for key, count in rows if key is not None}


@page("GET", "/cases", EVERYONE)
def case_list(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    shown = request.query_params.get("show", "open")
    if shown not in FILTERS:
        shown = "open"
    ui = state(request)
    with ui.database.session() as session:
        rows = list(session.scalars(_case_query(staff, shown)))
        ids = [c.id for c in rows]
        new = _counts(
            session,
            Sighting,
            Sighting.case_id,
            Sighting.case_id.in_(ids) & (Sighting.status == SightingStatus.NEW),
        )
        drafts = _counts(
            session,
            Notice,
            Notice.case_id,
            Notice.case_id.in_(ids) & (Notice.state == NoticeState.DRAFTED),
        )
        session.expunge_all()
    return render(
        request,
        "cases.html",
        staff=staff,
        cases=rows,
        shown=shown,
        filters=FILTERS,
        new=new,
        drafts=drafts,
        opened=None,
    )


@page("POST", "/cases", CASE_WORKERS)
def open_case(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    """A case for a survivor who phoned in: her number, passphrase and recovery code are
    shown once, to read out to her."""
    ui = state(request)
    with ui.database.session() as session:
        org = org_of(session, staff)
        case = cases.open_case(session, org=org, actor=staff.email, channel="phone")
        case.minor = form.get("minor") == "yes"
        for purpose in ConsentPurpose:
            if form.get(f"consent_{purpose.value}") == "yes":
                cases.record_consent(
                    session,
                    case=case,
                    purpose=purpose,
                    granted=True,
                    actor=staff.email,
                    note="told to the case worker by phone",
                )
        issued = Access(ui.settings).issue(session, case=case)
        note(session, staff, "case_opened", f"case:{case.id}", minor=case.minor)
        case_id = case.id
    return render(request, "opened.html", staff=staff, issued=issued, case_id=case_id)


def _case_context(session: Session, staff: Staff, case: Case) -> dict[str, Any]:
    events = list(
        session.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case.id).order_by(CaseEventRow.seq)
        )
    )
    items = list(
        session.scalars(select(BankItem).where(BankItem.case_id == case.id).order_by(BankItem.id))
    )
    sightings = list(
        session.scalars(select(Sighting).where(Sighting.case_id == case.id).order_by(Sighting.id))
    )
    evidence = list(
        session.scalars(select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id))
    )
    notices = list(
        session.scalars(select(Notice).where(Notice.case_id == case.id).order_by(Notice.id))
    )
    exports = list(
        session.scalars(
            select(ExportRequest).where(ExportRequest.case_id == case.id).order_by(ExportRequest.id)
        )
    )
    consents = {p.value: cases.consent_given(session, case=case, purpose=p) for p in ConsentPurpose}
    context = {
        "case": case,
        "events": events,
        "items": [(item, list(item.signals)) for item in items],
        "withdrawn_status": ItemStatus.WITHDRAWN,
        "sightings": sightings,
        "evidence": evidence,
        "notices": notices,
        "exports": exports,
        "notes": case_notes(session, case=case),
        "consents": consents,
        "can_change": staff.role in CASE_WORKERS,
        "is_open": case.status is CaseStatus.OPEN,
        "can_reveal": staff.role in REVEALERS and not case.minor,
    }
    session.expunge_all()
    return context


@page("GET", "/cases/{case_id:int}", EVERYONE)
def case_page(request: Request, staff: Staff, form: dict[str, str], case_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        case = own_case(session, staff, case_id)
        context = _case_context(session, staff, case)
    return render(request, "case.html", staff=staff, message="", **context)


def _back(case_id: int, message: str) -> Response:
    return RedirectResponse(f"{PREFIX}/cases/{case_id}?done={message}", status_code=303)


@page("POST", "/cases/{case_id:int}/notes", CASE_WORKERS)
def case_note(request: Request, staff: Staff, form: dict[str, str], case_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        case = own_case(session, staff, case_id)
        try:
            added = add_note(session, case=case, author=staff.email, text=form.get("text", ""))
        except ValueError:
            return _back(case_id, "note_empty")
        note(session, staff, "note_added", f"case:{case.id}", note=added.id)
    return _back(case_id, "note")


@page("POST", "/cases/{case_id:int}/urls", CASE_WORKERS)
def case_urls(request: Request, staff: Staff, form: dict[str, str], case_id: int) -> Response:
    """URLs the survivor found (one per line): each becomes a reported source of her case,
    fetched through the monitor's guarded fetcher."""
    urls = [line.strip() for line in form.get("urls", "").splitlines() if line.strip()]
    ui = state(request)
    refused = 0
    with ui.database.session() as session:
        case = own_case(session, staff, case_id)
        if case.status is not CaseStatus.OPEN:  # a withdrawn case is never searched again
            return refusal(request, staff, 409, "not_open")
        org = org_of(session, staff)
        for url in urls[:MAX_URLS]:
            try:
                with session.begin_nested():
                    add_source(
                        session, org=org, kind="reported", url=url, actor=staff.email, case=case
                    )
            except SourceRefused:
                refused += 1
        added = min(len(urls), MAX_URLS) - refused
        note(session, staff, "urls_added", f"case:{case.id}", added=added, refused=refused)
    return _back(case_id, f"urls_{added}_{refused + max(0, len(urls) - MAX_URLS)}")


@page("POST", "/cases/{case_id:int}/draft", CASE_WORKERS)
def case_draft(request: Request, staff: Staff, form: dict[str, str], case_id: int) -> Response:
    """Draft notices for the case's confirmed sightings not yet in one."""
    ui = state(request)
    with ui.database.session() as session:
        case = own_case(session, staff, case_id)
        org = org_of(session, staff)
        try:
            drafted = takedown.draft_case(
                session, org=org, case=case, actor=staff.email, settings=ui.settings
            )
        except TakedownError as error:
            return refusal(request, staff, 409, str(error))
        note(session, staff, "notices_drafted", f"case:{case.id}", count=len(drafted))
    return _back(case_id, f"drafted_{len(drafted)}")


@page("POST", "/cases/{case_id:int}/export", REQUESTERS)
def case_export(request: Request, staff: Staff, form: dict[str, str], case_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        case = own_case(session, staff, case_id)
        org = org_of(session, staff)
        try:
            row = request_export(
                session,
                org=org,
                case=case,
                actor=staff.actor(),
                legal_basis=form.get("legal_basis"),
                reveal_screenshots=form.get("reveal") == "yes",
            )
        except (ExportRefused, ExportNotAllowed) as error:
            session.rollback()
            return refusal(request, staff, 409, str(error))
        note(session, staff, "export_requested", f"case:{case.id}", request=row.id)
    return _back(case_id, "export")
