"""Signing in and out: password, then the authenticator's code (enrolled at the first
sign-in), then a new session. Every attempt is in the audit log; failures look alike."""

from __future__ import annotations

import re
from typing import Any

import segno
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from reclaim.cases import audit
from reclaim.cases.guards import Locked, SignInFailed
from reclaim.cases.roles import EVERYONE
from reclaim.cases.staff import AccountError, StaffUser
from reclaim.cases.staff_sessions import (
    STAGE_CODE,
    STAGE_OPEN,
    close_session,
    open_session,
    resume,
)
from reclaim.web.forms import (
    FormRefused,
    form_token,
    is_https,
    pre_form_ok,
    read_form,
    with_form_cookie,
)
from reclaim.web.i18n import COOKIE, LANGUAGES
from reclaim.web.ui.guard import (
    PREFIX,
    SESSION_COOKIE,
    Staff,
    client_address,
    page,
    public,
    refusal,
    render,
    state,
)

HOME = PREFIX + "/cases"


def _form_page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    token = form_token(request)
    response = render(request, template, status=status, token=token, **context)
    return with_form_cookie(request, response, token)


def _set_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path=PREFIX,
    )


@public("GET", "/signin")
def signin_page(request: Request) -> Response:
    return _form_page(request, "signin.html", error="")


@public("POST", "/signin")
async def signin(request: Request) -> Response:
    ui = state(request)
    try:
        fields = await read_form(request, 16_384)
    except FormRefused:
        return _form_page(request, "signin.html", 400, error="form")
    if not pre_form_ok(request, fields):
        return _form_page(request, "signin.html", 400, error="expired")
    if ui.limiter.take(f"staff:{client_address(request)}") > 0:
        return _form_page(request, "signin.html", 429, error="busy")
    email, password = fields.get("email", ""), fields.get("password", "")
    opened, refused = await run_in_threadpool(_check_password, request, email, password)
    if opened is None:
        return _form_page(request, "signin.html", 400, error=refused)
    response = RedirectResponse(PREFIX + "/signin/code", status_code=303)
    _set_session(request, response, opened)
    return response


def _check_password(request: Request, email: str, password: str) -> tuple[str | None, str]:
    """The half-open session's token, or None and the reason for the refusal page."""
    ui = state(request)
    address = client_address(request)
    with ui.database.session() as session:
        try:
            user = ui.accounts.check_password(session, email=email, password=password)
        except SignInFailed as error:
            locked = isinstance(error, Locked)
            typed = email.strip().lower()[:320]
            # Attributed to the account's organisation when the address is one (its
            # administrators see attempts on their people); never shown to whoever typed it.
            owner = session.scalar(select(StaffUser).where(StaffUser.email == typed))
            audit.record(
                session,
                org_id=owner.org_id if owner else None,
                user_id=owner.id if owner else None,
                actor=typed,
                action="sign_in_locked" if locked else "sign_in_failed",
                details={"step": "password"},
                address=address,
            )
            return None, "locked" if locked else "wrong"
        audit.record(
            session,
            org_id=user.org_id,
            user_id=user.id,
            actor=user.email,
            action="password_accepted",
            address=address,
        )
        return open_session(session, user=user, stage=STAGE_CODE).token, ""


def _half_open(request: Request) -> tuple[str, StaffUser] | None:
    ui = state(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    with ui.database.session() as session:
        found = resume(session, token=token, settings=ui.settings)
        if found is None or found[0].stage != STAGE_CODE:
            return None
        session.expunge(found[1])
        return token, found[1]


@public("GET", "/signin/code")
def code_page(request: Request) -> Response:
    found = _half_open(request)
    if found is None:
        return RedirectResponse(PREFIX + "/signin", status_code=303)
    return _code_form(request, found[1], "")


def _code_form(request: Request, user: StaffUser, error: str, status: int = 200) -> Response:
    ui = state(request)
    enrolment = None
    qr = Markup("")
    if not user.totp_enrolled:
        try:
            with ui.database.session() as session:
                fresh = session.get(StaffUser, user.id)
                if fresh is None:
                    return RedirectResponse(PREFIX + "/signin", status_code=303)
                enrolment = (
                    ui.accounts.enrolment(fresh)
                    if fresh.totp_sealed is not None
                    else ui.accounts.enrol(session, user=fresh)
                )
        except AccountError:
            return refusal(request, None, 503, "no_key")
        svg = segno.make(enrolment.uri, error="m").svg_inline(scale=4, border=2)
        # segno's own SVG of the otpauth URI: no text from anyone is in it.
        qr = Markup(re.sub(r"^<\?xml[^>]*>", "", svg))  # noqa: S704
    return _form_page(
        request,
        "code.html",
        status,
        error=error,
        enrolment=enrolment,
        qr=qr,
        grouped=" ".join(enrolment.secret[i : i + 4] for i in range(0, 32, 4)) if enrolment else "",
    )


@public("POST", "/signin/code")
async def code(request: Request) -> Response:
    found = await run_in_threadpool(_half_open, request)
    if found is None:
        return RedirectResponse(PREFIX + "/signin", status_code=303)
    token, user = found
    try:
        fields = await read_form(request, 16_384)
    except FormRefused:
        return await run_in_threadpool(_code_form, request, user, "form", 400)
    if not pre_form_ok(request, fields):
        return await run_in_threadpool(_code_form, request, user, "expired", 400)
    opened = await run_in_threadpool(_check_code, request, token, user.id, fields.get("code", ""))
    if opened is None:
        return await run_in_threadpool(_code_form, request, user, "wrong", 400)
    response = RedirectResponse(HOME, status_code=303)
    _set_session(request, response, opened)
    return response


def _check_code(request: Request, token: str, user_id: int, code: str) -> str | None:
    """A new, fully open session's token (the half-open one closed), or None."""
    ui = state(request)
    address = client_address(request)
    with ui.database.session() as session:
        user = session.get(StaffUser, user_id)
        if user is None:
            return None
        enrolling = not user.totp_enrolled
        try:
            ui.accounts.check_code(session, user=user, code=code)
        except SignInFailed as error:
            session.commit()  # the failure counts, whatever happens next
            audit.record(
                session,
                org_id=user.org_id,
                user_id=user.id,
                actor=user.email,
                action="sign_in_locked" if isinstance(error, Locked) else "sign_in_failed",
                details={"step": "code"},
                address=address,
            )
            return None
        close_session(session, token=token)
        audit.record(
            session,
            org_id=user.org_id,
            user_id=user.id,
            actor=user.email,
            action="signed_in",
            details={"enrolled": True} if enrolling else {},
            address=address,
        )
        return open_session(session, user=user, stage=STAGE_OPEN).token


@page("POST", "/signout", EVERYONE)
def signout(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        close_session(session, token=request.cookies.get(SESSION_COOKIE, ""))
        audit.record(
            session,
            org_id=staff.org_id,
            user_id=staff.user_id,
            actor=staff.email,
            action="signed_out",
            address=staff.address,
        )
    response = RedirectResponse(PREFIX + "/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@public("GET", "/lang/{code}")
def choose_language(request: Request, code: str, next: str = PREFIX) -> Response:
    # Only the staff app's own plain paths: nothing that could lead to another site.
    target = next if re.fullmatch(r"/staff(/[a-z0-9/_-]{0,80})?", next) else PREFIX
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, samesite="strict", secure=is_https(request), path="/")
    return response


@page("GET", "", EVERYONE)
def home(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    return RedirectResponse(HOME, status_code=303)


__all__ = ["HTMLResponse"]
