"""What waits for a person's decision: takedown drafts, evidence exports, newly registered
items before they are shared with platforms, and platforms' disputes of items."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from reclaim.banks import service as banks
from reclaim.banks.models import Bank, BankItem, ItemStatus
from reclaim.banks.platforms import open_disputes, resolve_dispute
from reclaim.cases.models import Case, ConsentPurpose
from reclaim.cases.roles import APPROVERS, EVERYONE
from reclaim.cases.service import NotFound, consent_given
from reclaim.evidence.export import ExportRefused
from reclaim.evidence.requests import (
    ExportNotAllowed,
    ExportState,
    approve_export,
    get_request,
    pending_exports,
    reject_export,
)
from reclaim.store.blobs import BlobError
from reclaim.takedown import service as takedown
from reclaim.takedown.models import Notice, NoticeState
from reclaim.takedown.workflow import TakedownError
from reclaim.web.ui.guard import PREFIX, Staff, note, org_of, page, refusal, render, state


def _refused(request: Request, staff: Staff, error: Exception, status: int = 409) -> Response:
    return refusal(request, staff, status, str(error))


@page("GET", "/approvals", EVERYONE)
def approvals(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        org = org_of(session, staff)
        drafts = takedown.list_notices(session, org=org, states=(NoticeState.DRAFTED,))
        exports = pending_exports(session, org=org)
        unverified = list(
            session.execute(
                select(BankItem, Bank)
                .join(Bank, Bank.id == BankItem.bank_id)
                .where(
                    Bank.org_id == org.id,
                    BankItem.verified.is_(False),
                    BankItem.status == ItemStatus.ACTIVE,
                )
                .order_by(BankItem.id)
                .limit(500)
            )
        )
        disputes = open_disputes(session, org=org)
        session.expunge_all()
    return render(
        request,
        "approvals.html",
        staff=staff,
        drafts=drafts,
        exports=exports,
        unverified=unverified,
        disputes=disputes,
        can_decide=staff.role in APPROVERS,
    )


def _notice(session: Session, staff: Staff, notice_id: int) -> Notice:
    return takedown.get_notice(session, org=org_of(session, staff), notice_id=notice_id)


@page("GET", "/notices/{notice_id:int}", EVERYONE)
def notice_page(request: Request, staff: Staff, form: dict[str, str], notice_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        notice = _notice(session, staff, notice_id)
        listed = takedown.targets(session, notice=notice)
        session.expunge_all()
    return render(
        request,
        "notice.html",
        staff=staff,
        notice=notice,
        targets=listed,
        can_decide=staff.role in APPROVERS and notice.state is NoticeState.DRAFTED,
    )


@page("POST", "/notices/{notice_id:int}/approve", APPROVERS)
def notice_approve(
    request: Request, staff: Staff, form: dict[str, str], notice_id: int
) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        notice = _notice(session, staff, notice_id)
        try:
            result = takedown.approve(
                session, notice=notice, actor=staff.actor(), settings=ui.settings
            )
        except TakedownError as error:
            session.rollback()
            return _refused(request, staff, error)
        note(session, staff, "notice_approved", f"notice:{notice.id}", complete=result.complete)
    return RedirectResponse(f"{PREFIX}/notices/{notice_id}", status_code=303)


@page("POST", "/notices/{notice_id:int}/reject", APPROVERS)
def notice_reject(request: Request, staff: Staff, form: dict[str, str], notice_id: int) -> Response:
    reason = form.get("reason", "").strip()
    ui = state(request)
    with ui.database.session() as session:
        notice = _notice(session, staff, notice_id)
        try:
            takedown.reject(session, notice=notice, actor=staff.actor(), reason=reason)
        except (TakedownError, ValueError) as error:
            session.rollback()
            return _refused(request, staff, error)
        note(session, staff, "notice_rejected", f"notice:{notice.id}", reason=reason[:500])
    return RedirectResponse(f"{PREFIX}/notices/{notice_id}", status_code=303)


@page("POST", "/notices/{notice_id:int}/edit", APPROVERS)
def notice_edit(request: Request, staff: Staff, form: dict[str, str], notice_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        notice = _notice(session, staff, notice_id)
        try:
            takedown.edit_notice(
                session,
                notice=notice,
                actor=staff.actor(),
                subject=form.get("subject") or None,
                text=form.get("text") or None,
            )
        except (TakedownError, ValueError) as error:
            session.rollback()
            return _refused(request, staff, error)
        note(session, staff, "notice_edited", f"notice:{notice.id}")
    return RedirectResponse(f"{PREFIX}/notices/{notice_id}", status_code=303)


@page("POST", "/exports/{export_id:int}/approve", APPROVERS)
def export_approve(
    request: Request, staff: Staff, form: dict[str, str], export_id: int
) -> Response:
    ui = state(request)
    if ui.blobs is None or ui.master is None:
        return _refused(request, staff, ExportNotAllowed("no master key"), 503)
    with ui.database.session() as session:
        org = org_of(session, staff)
        row = get_request(session, org=org, request_id=export_id)
        try:
            approve_export(
                session,
                org=org,
                row=row,
                actor=staff.actor(),
                blobs=ui.blobs,
                master=ui.master,
                exports_dir=Path(ui.settings.data_dir) / "exports",
            )
        except (ExportNotAllowed, ExportRefused, FileExistsError, LookupError, BlobError) as error:
            # Nothing is kept of a refused approval: the request still waits.
            session.rollback()
            return _refused(request, staff, error)
        note(session, staff, "export_approved", f"export:{row.id}", case=row.case_id)
    return RedirectResponse(f"{PREFIX}/approvals", status_code=303)


@page("POST", "/exports/{export_id:int}/reject", APPROVERS)
def export_reject(request: Request, staff: Staff, form: dict[str, str], export_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        row = get_request(session, org=org_of(session, staff), request_id=export_id)
        try:
            reject_export(session, row=row, actor=staff.actor(), reason=form.get("reason", ""))
        except (ExportNotAllowed, ValueError) as error:
            session.rollback()
            return _refused(request, staff, error)
        note(session, staff, "export_rejected", f"export:{row.id}")
    return RedirectResponse(f"{PREFIX}/approvals", status_code=303)


@page("GET", "/exports/{export_id:int}/download", APPROVERS)
def export_download(
    request: Request, staff: Staff, form: dict[str, str], export_id: int
) -> Response:
    """The made export as one zip (logged; never cached)."""
    ui = state(request)
    with ui.database.session() as session:
        row = get_request(session, org=org_of(session, staff), request_id=export_id)
        if row.state is not ExportState.MADE or not row.folder:
            return _refused(request, staff, ValueError("not_made"))
        folder = Path(row.folder)
        note(session, staff, "export_downloaded", f"export:{row.id}", case=row.case_id)
    # Written to a scratch file, not memory (videos make exports large), removed once sent.
    scratch = Path(ui.settings.data_dir) / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=scratch, suffix=".zip", delete=False)  # noqa: SIM115
    with handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return FileResponse(
        handle.name,
        media_type="application/zip",
        filename=f"{folder.name}.zip",
        headers={"cache-control": "no-store"},
        background=BackgroundTask(Path(handle.name).unlink, missing_ok=True),
    )


def _own_item(session: Session, staff: Staff, item_id: int) -> tuple[BankItem, Bank]:
    item = session.get(BankItem, item_id)
    bank = session.get(Bank, item.bank_id) if item is not None else None
    if item is None or bank is None or bank.org_id != staff.org_id:
        raise LookupError(f"no item {item_id}")
    return item, bank


@page("POST", "/items/{item_id:int}/verify", APPROVERS)
def item_verify(request: Request, staff: Staff, form: dict[str, str], item_id: int) -> Response:
    """A person checked the registered item: from now on platforms match against it --
    only if she agreed to her hashes being shared."""
    ui = state(request)
    with ui.database.session() as session:
        item, bank = _own_item(session, staff, item_id)
        case = session.get(Case, item.case_id) if item.case_id is not None else None
        if case is not None and (
            consent_given(session, case=case, purpose=ConsentPurpose.SHARE_HASHES) is None
        ):
            return _refused(request, staff, ValueError("no_share_consent"))
        try:
            banks.verify_item(session, bank=bank, public_id=item.public_id, actor=staff.email)
        except NotFound as error:
            return _refused(request, staff, error)
        note(session, staff, "item_verified", f"item:{item.public_id}")
    return RedirectResponse(f"{PREFIX}/approvals", status_code=303)


@page("POST", "/disputes/{dispute_id:int}/resolve", APPROVERS)
def dispute_resolve(
    request: Request, staff: Staff, form: dict[str, str], dispute_id: int
) -> Response:
    decision = form.get("decision", "")
    ui = state(request)
    with ui.database.session() as session:
        org = org_of(session, staff)
        found = [d for d, _, _ in open_disputes(session, org=org) if d.id == dispute_id]
        if not found:
            raise LookupError(f"no open dispute {dispute_id}")
        if decision not in ("uphold", "reject"):
            return _refused(request, staff, ValueError("form"), 400)
        resolve_dispute(
            session,
            org=org,
            dispute_id=found[0].public_id,
            actor=staff.email,
            uphold=decision == "uphold",
            note=form.get("note", "")[:2000],
        )
        note(session, staff, f"dispute_{decision}", f"dispute:{dispute_id}")
    return RedirectResponse(f"{PREFIX}/approvals", status_code=303)
