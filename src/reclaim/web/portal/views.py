"""The portal's pages. Thin: each looks up, checks the form's token, and calls the survivor
flows (:mod:`reclaim.survivor`) or case access (:mod:`reclaim.cases.access`).

Forms are plain ``application/x-www-form-urlencoded`` posts, read here within a size limit.
Before sign-in a form carries a token that must equal a cookie set with the page (double
submit); after sign-in, the session's own CSRF token. Every failure to sign in looks the
same, and nothing about her is written to the server's logs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from reclaim.cases import service as cases
from reclaim.cases.access import Access
from reclaim.cases.guards import Locked, SignInFailed
from reclaim.cases.models import Case, CaseStatus, ConsentPurpose
from reclaim.cases.sessions import PortalSession, close_session, csrf_ok, open_session, resume
from reclaim.config import Settings
from reclaim.monitor.service import SourceRefused, add_source
from reclaim.store.blobs import BlobStore
from reclaim.store.db import Database
from reclaim.store.envelope import KeyProblem, MasterKey
from reclaim.survivor import ledger, registration
from reclaim.survivor.timeline import summarise
from reclaim.survivor.withdrawal import withdraw_case
from reclaim.web.forms import (
    FormRefused,
    form_token,
    is_https,
    pre_form_ok,
    read_form,
    with_form_cookie,
)
from reclaim.web.portal.i18n import COOKIE, LANGUAGES, environment, language
from reclaim.web.ratelimit import Limiter

router = APIRouter(include_in_schema=False)
SESSION_COOKIE = "reclaim_case"
MAX_URLS = 20


@dataclass
class PortalState:
    settings: Settings
    database: Database
    access: Access
    limiter: Limiter
    org_slug: str | None = None


def _state(request: Request) -> PortalState:
    state: PortalState = request.app.state.portal
    return state


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request.cookies.get(COOKIE), request.headers.get("accept-language"))
    page = (
        environment(lang)
        .get_template(name)
        .render(
            lang=lang,
            languages=LANGUAGES,
            path=request.url.path,
            exit_url=_state(request).settings.portal_exit_url,
            **context,
        )
    )
    return HTMLResponse(page, status_code=status)


def _limited(request: Request) -> bool:
    client = request.client.host if request.client else "?"
    return _state(request).limiter.take(f"portal:{client}") > 0


def _form_page(
    request: Request, template: str, status: int = 200, error: str = "", **context: Any
) -> HTMLResponse:
    """A page with a form posted before sign-in: its token in the form and the cookie."""
    token = form_token(request)
    response = _render(request, template, status, token=token, error=error, **context)
    with_form_cookie(request, response, token)
    return response


def _refused(request: Request, template: str, message: str, **context: Any) -> HTMLResponse:
    return _form_page(request, template, 400, message, **context)


async def _public_form(
    request: Request, template: str, limit: int, **context: Any
) -> dict[str, str] | HTMLResponse:
    """A form posted before sign-in -- read within ``limit``, its token checked against
    the cookie, the sender's rate limited -- or the page that says what was wrong."""
    try:
        fields = await read_form(request, limit)
    except FormRefused:
        return _refused(request, template, "form", **context)
    if not pre_form_ok(request, fields):
        return _refused(request, template, "expired", **context)
    if _limited(request):
        return _refused(request, template, "busy", **context)
    return fields


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return _render(request, "home.html")


@router.get("/lang/{code}")
def choose_language(request: Request, code: str, next: str = "/") -> Response:
    # Only our own plain paths: "//host", "/\\host" and the like would lead elsewhere.
    target = next if re.fullmatch(r"/[a-z/]{0,40}", next) and "//" not in next else "/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, samesite="strict", secure=is_https(request), path="/")
    return response


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request) -> Response:
    return _form_page(request, "register.html", purposes=list(ConsentPurpose))


@router.post("/register", response_class=HTMLResponse)
async def register(request: Request) -> Response:
    state = _state(request)
    purposes = list(ConsentPurpose)
    fields = await _public_form(
        request, "register.html", state.settings.portal_max_form_bytes, purposes=purposes
    )
    if isinstance(fields, HTMLResponse):
        return fields
    try:
        files = registration.parse_files(
            json.loads(fields.get("files") or "null"), limit=state.settings.case_item_limit
        )
    except (ValueError, registration.InvalidSubmission):
        return _refused(request, "register.html", "files", purposes=purposes)
    consents = {p: fields.get(f"consent_{p.value}") == "yes" for p in purposes}
    address = fields.get("contact", "").strip()
    master = _master(state.settings)
    lang = language(request.cookies.get(COOKIE), request.headers.get("accept-language"))
    contact = (
        registration.Contact(address, lang, master) if address and master is not None else None
    )
    with state.database.session() as session:
        org = cases.get_org(session, slug=state.org_slug)
        try:
            issued = registration.register(
                session, org=org, files=files, consents=consents,
                minor=fields.get("minor") == "yes", access=state.access, settings=state.settings,
                contact=contact,
            )  # fmt: skip
        except registration.InvalidSubmission as error:
            session.rollback()
            reason = "contact" if isinstance(error, registration.InvalidAddress) else "files"
            return _refused(request, "register.html", reason, purposes=purposes)
    kept = contact is not None or not address
    return _render(request, "registered.html", issued=issued, recovered=False, kept=kept)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request) -> Response:
    return _form_page(request, "signin.html")


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    state = _state(request)
    fields = await _public_form(request, "signin.html", 16_384)
    if isinstance(fields, HTMLResponse):
        return fields
    with state.database.session() as session:
        org = cases.get_org(session, slug=state.org_slug)
        try:
            case = state.access.sign_in(
                session,
                number=fields.get("number", ""),
                passphrase=fields.get("passphrase", ""),
                org_id=org.id,
            )
        except Locked:
            return _refused(request, "signin.html", "locked")
        except SignInFailed:
            return _refused(request, "signin.html", "wrong")
        opened = open_session(session, case=case)
    response = RedirectResponse("/case", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, opened.token, httponly=True, samesite="strict", secure=is_https(request),
        path="/",
    )  # fmt: skip
    return response


def _signed_in(request: Request, session: Session) -> tuple[PortalSession, Case] | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    row = resume(session, token=token, settings=_state(request).settings)
    if row is None:
        return None
    case = session.get(Case, row.case_id)
    return (row, case) if case is not None else None


def _case_page(
    request: Request, session: Session, row: PortalSession, case: Case, **extra: Any
) -> HTMLResponse:
    show_sites = request.query_params.get("sites") == "1"
    lines = summarise(cases.timeline(session, case=case), show_sites=show_sites)
    consents = {
        p: cases.consent_given(session, case=case, purpose=p) is not None for p in ConsentPurpose
    }
    context: dict[str, Any] = {"message": "", "errors": []}
    context.update(extra)
    return _render(
        request, "case.html", case=case, lines=lines, consents=consents, csrf=row.csrf,
        show_sites=show_sites, withdrawn=case.status is CaseStatus.WITHDRAWN, **context,
    )  # fmt: skip


@router.get("/case", response_class=HTMLResponse)
def case_page(request: Request) -> Response:
    with _state(request).database.session() as session:
        found = _signed_in(request, session)
        if found is None:
            return RedirectResponse("/signin", status_code=303)
        return _case_page(request, session, *found)


async def _case_form(request: Request, limit: int = 65_536) -> tuple[dict[str, str], bool]:
    """The form, and whether it carries the session's CSRF token."""
    try:
        fields = await read_form(request, limit)
    except FormRefused:
        return {}, False
    return fields, True


def _checked(
    request: Request, session: Session, fields: dict[str, str], ok: bool
) -> tuple[PortalSession, Case] | Response:
    """Her session and case for a form on her case page -- or, when she is not signed
    in, the form is not hers (CSRF) or the case is withdrawn, the page to show instead."""
    found = _signed_in(request, session)
    if found is None:
        return RedirectResponse("/signin", status_code=303)
    row, case = found
    if not ok or not csrf_ok(row, fields.get("csrf")) or case.status is CaseStatus.WITHDRAWN:
        return _case_page(request, session, row, case, message="expired")
    return row, case


@router.post("/case/consent", response_class=HTMLResponse)
async def change_consent(request: Request) -> Response:
    fields, ok = await _case_form(request)
    with _state(request).database.session() as session:
        checked = _checked(request, session, fields, ok)
        if isinstance(checked, Response):
            return checked
        row, case = checked
        for purpose in ConsentPurpose:
            wanted = fields.get(f"consent_{purpose.value}") == "yes"
            current = cases.consent_given(session, case=case, purpose=purpose) is not None
            if wanted != current:
                cases.record_consent(
                    session, case=case, purpose=purpose, granted=wanted, actor="survivor"
                )
        return _case_page(request, session, row, case, message="saved")


@router.post("/case/urls", response_class=HTMLResponse)
async def add_urls(request: Request) -> Response:
    fields, ok = await _case_form(request)
    state = _state(request)
    with state.database.session() as session:
        checked = _checked(request, session, fields, ok)
        if isinstance(checked, Response):
            return checked
        row, case = checked
        urls = [u.strip() for u in fields.get("urls", "").splitlines() if u.strip()][:MAX_URLS]
        org = cases.get_org(session, slug=state.org_slug)
        added, errors = 0, []
        for url in urls:
            try:
                with session.begin_nested():
                    add_source(
                        session, org=org, kind="reported", url=url, actor="survivor", case=case
                    )
                added += 1
            except SourceRefused:
                errors.append(url[:300])
        return _case_page(request, session, row, case, message="urls", added=added, errors=errors)


@router.post("/case/files", response_class=HTMLResponse)
async def add_files(request: Request) -> Response:
    state = _state(request)
    fields, ok = await _case_form(request, state.settings.portal_max_form_bytes)
    with state.database.session() as session:
        checked = _checked(request, session, fields, ok)
        if isinstance(checked, Response):
            return checked
        row, case = checked
        try:
            files = registration.parse_files(
                json.loads(fields.get("files") or "null"), limit=state.settings.case_item_limit
            )
            with session.begin_nested():
                count = registration.add_files(
                    session, case=case, files=files, settings=state.settings
                )
        except (ValueError, registration.InvalidSubmission):
            return _case_page(request, session, row, case, message="files")
        return _case_page(request, session, row, case, message="added", added=count)


@router.get("/case/withdraw", response_class=HTMLResponse)
def withdraw_page(request: Request) -> Response:
    with _state(request).database.session() as session:
        found = _signed_in(request, session)
        if found is None:
            return RedirectResponse("/signin", status_code=303)
        return _render(request, "withdraw.html", csrf=found[0].csrf, error="")


@router.post("/case/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request) -> Response:
    fields, ok = await _case_form(request)
    state = _state(request)
    with state.database.session() as session:
        found = _signed_in(request, session)
        if found is None:
            return RedirectResponse("/signin", status_code=303)
        row, case = found
        if not ok or not csrf_ok(row, fields.get("csrf")) or fields.get("confirm") != "yes":
            return _render(request, "withdraw.html", 400, csrf=row.csrf, error="confirm")
        done = withdraw_case(session, case=case, blobs=_blobs(state.settings), actor="survivor")
        number = case.number
    ledger.record(state.settings, number)  # committed: a restored backup withdraws it again
    response = _render(request, "withdrawn.html", done=done)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _master(settings: Settings) -> MasterKey | None:
    try:
        return MasterKey.load(settings.resolved_master_key_file)
    except KeyProblem:
        return None


def _blobs(settings: Settings) -> BlobStore:
    # Without a master key nothing was ever stored encrypted: shredding needs none.
    return BlobStore(settings.data_dir / "blobs", _master(settings))


@router.post("/signout")
async def signout(request: Request) -> Response:
    fields, ok = await _case_form(request)
    with _state(request).database.session() as session:
        found = _signed_in(request, session)
        if found is not None and ok and csrf_ok(found[0], fields.get("csrf")):
            close_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/recover", response_class=HTMLResponse)
def recover_page(request: Request) -> Response:
    return _form_page(request, "recover.html")


@router.post("/recover", response_class=HTMLResponse)
async def recover(request: Request) -> Response:
    state = _state(request)
    fields = await _public_form(request, "recover.html", 16_384)
    if isinstance(fields, HTMLResponse):
        return fields
    with state.database.session() as session:
        org = cases.get_org(session, slug=state.org_slug)
        try:
            issued = state.access.recover(
                session,
                number=fields.get("number", ""),
                recovery_code=fields.get("code", ""),
                org_id=org.id,
            )
        except Locked:
            return _refused(request, "recover.html", "locked")
        except SignInFailed:
            return _refused(request, "recover.html", "wrong")
    return _render(request, "registered.html", issued=issued, recovered=True, kept=True)
