"""Statistics (platforms' removal record, the organisation's workload), the audit log, and
the organisation's accounts."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from reclaim.cases import audit
from reclaim.cases.roles import EVERYONE, Role
from reclaim.cases.staff import AccountError, get_user, list_users, new_password
from reclaim.cases.staff_sessions import close_user_sessions
from reclaim.store.base import utcnow
from reclaim.takedown.stats import ALL, platform_stats, to_csv
from reclaim.takedown.workload import workload
from reclaim.web.ui.charts import Series, bar_chart, line_chart
from reclaim.web.ui.guard import PREFIX, Staff, note, org_of, page, refusal, render, state
from reclaim.web.ui.i18n import translations

ADMINS = frozenset({Role.ADMIN})
READERS_OF_THE_LOG = frozenset({Role.ADMIN, Role.AUDITOR})
PERIODS = {"4w": 28, "12w": 84, "52w": 364}


@page("GET", "/stats", EVERYONE)
def stats(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    period = request.query_params.get("period", "12w")
    days = PERIODS.get(period, 84)
    until = utcnow()
    since = until - timedelta(days=days)
    ui = state(request)
    with ui.database.session() as session:
        org = org_of(session, staff)
        platforms = [p for p in platform_stats(session, org=org, since=since) if p.channel == ALL]
        work = workload(session, org=org, since=since, until=until)
    platforms.sort(key=lambda p: (-p.sent, p.domain))
    _ = translations(staff.lang).gettext
    weeks = [week.strftime("%m-%d") for week in work.weeks]
    titles = {
        "removal": _("Removal rate by site"),
        "hours": _("Median hours to removal"),
        "weekly": _("Work per week"),
    }
    charts = {
        "removal": bar_chart(
            titles["removal"],
            [
                (p.domain, None if p.removal_rate is None else 100 * p.removal_rate)
                for p in platforms[:20]
            ],
            unit="%",
            chart_id="removal-rate",
        ),
        "hours": bar_chart(
            titles["hours"],
            [(p.domain, p.median_hours) for p in platforms[:20]],
            unit=" h",
            chart_id="median-hours",
        ),
        "weekly": line_chart(
            titles["weekly"],
            [
                Series(_("cases opened"), work.cases_opened),
                Series(_("sightings"), work.sightings),
                Series(_("notices sent"), work.notices_sent),
            ],
            x_labels=weeks,
            chart_id="weekly",
        ),
    }
    return render(
        request,
        "stats.html",
        staff=staff,
        platforms=platforms,
        work=work,
        weeks=weeks,
        charts=charts,
        titles=titles,
        period=period,
        periods=list(PERIODS),
    )


@page("GET", "/stats/platforms.csv", EVERYONE)
def stats_csv(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        rows = platform_stats(session, org=org_of(session, staff))
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="platforms.csv"'},
    )


@page("GET", "/audit", READERS_OF_THE_LOG)
def audit_log(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    before = request.query_params.get("before", "")
    action = request.query_params.get("action", "")[:64] or None
    ui = state(request)
    with ui.database.session() as session:
        rows = audit.entries(
            session,
            org_id=staff.org_id,
            action=action,
            before=int(before) if before.isdigit() else None,
        )
        session.expunge_all()
    return render(request, "audit.html", staff=staff, entries=rows, action=action or "")


@page("GET", "/users", ADMINS)
def users(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        rows = list_users(session, org=org_of(session, staff))
        session.expunge_all()
    return render(request, "users.html", staff=staff, users=rows, roles=list(Role), made=None)


@page("POST", "/users", ADMINS)
def user_add(request: Request, staff: Staff, form: dict[str, str]) -> Response:
    ui = state(request)
    password = new_password()
    try:
        role = Role(form.get("role", ""))
    except ValueError:
        return refusal(request, staff, 400, "form")
    with ui.database.session() as session:
        org = org_of(session, staff)
        try:
            user = ui.accounts.add(
                session,
                org=org,
                email=form.get("email", ""),
                role=role,
                password=password,
                name=form.get("name", ""),
            )
        except AccountError as error:
            session.rollback()
            return refusal(request, staff, 409, str(error))
        note(session, staff, "user_added", f"user:{user.id}", role=role.value)
        made = {"email": user.email, "password": password}
        rows = list_users(session, org=org)
        session.expunge_all()
    return render(request, "users.html", staff=staff, users=rows, roles=list(Role), made=made)


@page("POST", "/users/{user_id:int}/disable", ADMINS)
def user_disable(request: Request, staff: Staff, form: dict[str, str], user_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        user = get_user(session, org=org_of(session, staff), user_id=user_id)
        if user.id == staff.user_id:
            return refusal(request, staff, 409, "self")
        user.disabled = utcnow()
        close_user_sessions(session, user_id=user.id)
        note(session, staff, "user_disabled", f"user:{user.id}")
    return RedirectResponse(f"{PREFIX}/users", status_code=303)


@page("POST", "/users/{user_id:int}/reset-totp", ADMINS)
def user_reset_totp(request: Request, staff: Staff, form: dict[str, str], user_id: int) -> Response:
    ui = state(request)
    with ui.database.session() as session:
        user = get_user(session, org=org_of(session, staff), user_id=user_id)
        ui.accounts.reset_totp(session, user=user)
        close_user_sessions(session, user_id=user.id)
        note(session, staff, "user_totp_reset", f"user:{user.id}")
    return RedirectResponse(f"{PREFIX}/users", status_code=303)
