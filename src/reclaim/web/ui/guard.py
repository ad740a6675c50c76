"""Who gets in, to what: every staff page is declared with the roles it admits.

:func:`page` registers a route *and* its rule in :data:`RULES`, and wraps the view so
that, before it runs, the request is admitted in this order:

1. a signed-in, fully open session (GET without one: to the sign-in page; POST: 403);
2. for POST, a form within the size limit carrying the session's CSRF token (403);
3. the role (403, the same whether or not the object exists);
4. then the view looks its object up *within the person's organisation*: another
   organisation's object, or none, is 404 (:class:`LookupError`).

The route table and :data:`RULES` are one: the authorisation test walks every route and
fails on one without a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from reclaim.cases import audit
from reclaim.cases.models import Organisation
from reclaim.cases.roles import Actor, NotAllowed, Role
from reclaim.cases.sessions import csrf_ok
from reclaim.cases.staff import Accounts
from reclaim.cases.staff_sessions import STAGE_OPEN, resume
from reclaim.config import Settings
from reclaim.store.blobs import BlobStore
from reclaim.store.db import Database
from reclaim.store.envelope import MasterKey
from reclaim.web.forms import FormRefused, read_form
from reclaim.web.i18n import COOKIE, LANGUAGES, language
from reclaim.web.ratelimit import Limiter
from reclaim.web.ui.i18n import environment

PREFIX = "/staff"
SESSION_COOKIE = "reclaim_staff"
MAX_FORM = 256 * 1024

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Rule:
    roles: frozenset[Role] | None
    """Who may; None for the pages before sign-in."""


RULES: dict[tuple[str, str], Rule] = {}


@dataclass
class UiState:
    settings: Settings
    database: Database
    accounts: Accounts
    limiter: Limiter
    master: MasterKey | None
    blobs: BlobStore | None


@dataclass(frozen=True, slots=True)
class Staff:
    """The person signed in, for one request."""

    user_id: int
    email: str
    name: str
    role: Role
    org_id: int
    org_name: str
    csrf: str
    lang: str
    address: str

    def actor(self) -> Actor:
        return Actor(self.email, self.role)


def state(request: Request) -> UiState:
    ui: UiState = request.app.state.ui
    return ui


def lang_of(request: Request) -> str:
    return language(request.cookies.get(COOKIE), request.headers.get("accept-language"))


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def render(
    request: Request,
    name: str,
    *,
    staff: Staff | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    ui = state(request)
    lang = staff.lang if staff is not None else lang_of(request)
    page = (
        environment(lang)
        .get_template(name)
        .render(
            lang=lang,
            languages=LANGUAGES,
            path=request.url.path,
            staff=staff,
            zone=ui.settings.staff_timezone,
            **context,
        )
    )
    return HTMLResponse(page, status_code=status)


def refusal(request: Request, staff: Staff | None, status: int, message: str) -> HTMLResponse:
    return render(request, "refused.html", staff=staff, status=status, code=status, message=message)


def org_of(session: Session, staff: Staff) -> Organisation:
    org = session.get(Organisation, staff.org_id)
    if org is None:
        raise LookupError("the organisation is gone")
    return org


def note(session: Session, staff: Staff, action: str, target: str, **details: Any) -> None:
    audit.record(
        session,
        org_id=staff.org_id,
        user_id=staff.user_id,
        actor=staff.email,
        action=action,
        target=target,
        details=details,
        address=staff.address,
    )


def _signed_in(request: Request) -> tuple[Staff, str] | None:
    """The person and her session's stage; None without a live session."""
    ui = state(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    with ui.database.session() as session:
        found = resume(session, token=token, settings=ui.settings)
        if found is None:
            return None
        row, user = found
        org = session.get(Organisation, user.org_id)
        staff = Staff(
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            org_id=user.org_id,
            org_name=org.name if org else "",
            csrf=row.csrf,
            lang=lang_of(request),
            address=client_address(request),
        )
        return staff, row.stage


View = Callable[..., Response]


def page(method: str, path: str, roles: frozenset[Role]) -> Callable[[View], View]:
    """Declare the staff page ``method path`` for ``roles``. The view is called as
    ``view(request, staff, form, **path_params)`` in a worker thread (``form`` is empty
    for GET)."""

    def declare(view: View) -> View:
        full = PREFIX + path

        async def endpoint(request: Request) -> Response:
            admitted = await run_in_threadpool(_signed_in, request)
            writes = method == "POST"
            if admitted is None or admitted[1] != STAGE_OPEN:
                if writes:
                    return refusal(request, None, 403, "signed_out")
                return RedirectResponse(PREFIX + "/signin", status_code=303)
            staff = admitted[0]
            form: dict[str, str] = {}
            if writes:
                try:
                    form = await read_form(request, MAX_FORM)
                except FormRefused:
                    return refusal(request, staff, 400, "form")
                if not csrf_ok(staff, form.get("csrf")):
                    return refusal(request, staff, 403, "expired")
            if staff.role not in roles:
                return refusal(request, staff, 403, "role")
            try:
                return await run_in_threadpool(view, request, staff, form, **request.path_params)
            except LookupError:
                return refusal(request, staff, 404, "missing")
            except NotAllowed:
                return refusal(request, staff, 403, "role")

        # Not functools.wraps: FastAPI would read the view's signature as query parameters.
        endpoint.__name__ = endpoint.__qualname__ = view.__name__
        router.add_api_route(full, endpoint, methods=[method])
        RULES[(method, full)] = Rule(roles)
        return view

    return declare


def public(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a page open before sign-in (sign-in itself, the language switch)."""

    def declare(view: Callable[..., Any]) -> Callable[..., Any]:
        full = PREFIX + path
        router.add_api_route(full, view, methods=[method])
        RULES[(method, full)] = Rule(None)
        return view

    return declare
