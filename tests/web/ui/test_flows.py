"""The staff app's flows over HTTP: two-step sign-in, its attacks, review and reveal,
approvals, and hostile text shown inert."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
from sqlalchemy import func, select

from reclaim.cases.audit import AuditEntry
from reclaim.cases.models import Case
from reclaim.cases.roles import Role
from reclaim.cases.staff_sessions import StaffSession
from reclaim.evidence.models import CustodyEntry, Evidence
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.takedown.models import Notice, NoticeState, OutboxMessage
from reclaim.web.ui.guard import SESSION_COOKIE
from tests.web.ui.conftest import PASSWORD, StaffWorld, form_token


def _password_step(world: StaffWorld, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = form_token(world.client.get("/staff/signin").text)
    return world.client.post(
        "/staff/signin",
        data={"token": token, "email": email, "password": password},
        follow_redirects=False,
    )


def _code_step(world: StaffWorld, code: str):  # type: ignore[no-untyped-def]
    page = world.client.get("/staff/signin/code")
    return world.client.post(
        "/staff/signin/code",
        data={"token": form_token(page.text), "code": code},
        follow_redirects=False,
    )


def _audit(world: StaffWorld, action: str) -> list[AuditEntry]:
    with world.database().session() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        session.expunge_all()
        return rows


def test_sign_in_enrols_totp_then_opens_a_new_session(staff_world: StaffWorld) -> None:
    world = staff_world
    email = "case_worker@north.example"
    answer = _password_step(world, email)
    assert answer.status_code == 303, answer.text[-1500:]
    assert answer.headers["location"] == "/staff/signin/code"
    half_open = world.client.cookies.get(SESSION_COOKIE)
    assert world.client.get("/staff/cases", follow_redirects=False).status_code == 303  # not yet
    enrol = world.client.get("/staff/signin/code")
    assert "<svg" in enrol.text  # the QR code
    key = re.search(r'<code id="totp-key">([A-Z2-7 ]+)</code>', enrol.text)
    assert key is not None
    totp = pyotp.TOTP(key.group(1).replace(" ", ""))
    assert _code_step(world, "000000" if totp.now() != "000000" else "111111").status_code == 400
    signed = _code_step(world, totp.now())
    assert signed.status_code == 303
    assert signed.headers["location"] == "/staff/cases"
    opened = world.client.cookies.get(SESSION_COOKIE)
    assert opened
    assert opened != half_open
    assert world.client.get("/staff/cases").status_code == 200
    world.client.cookies.set(SESSION_COOKIE, half_open or "", path="/staff")
    assert world.client.get("/staff/cases", follow_redirects=False).status_code == 303
    assert [e.actor for e in _audit(world, "signed_in")] == [email]
    assert len(_audit(world, "sign_in_failed")) == 1


def test_a_totp_code_is_accepted_once(staff_world: StaffWorld) -> None:
    world = staff_world
    email = "reviewer@north.example"
    _password_step(world, email)
    world.client.get("/staff/signin/code")  # enrols
    totp = world.totp(email)
    code = totp.now()
    assert _code_step(world, code).status_code == 303
    world.client.cookies.clear()
    _password_step(world, email)
    replayed = _code_step(world, code)  # the same code, seen over a shoulder
    assert replayed.status_code == 400
    assert "wrong" in replayed.text


def test_wrong_passwords_lock_the_address_whoever_asks(staff_world: StaffWorld) -> None:
    world = staff_world
    for _ in range(5):
        assert _password_step(world, "admin@north.example", "not the password").status_code == 400
    locked = _password_step(world, "admin@north.example")  # now even the right one waits
    assert locked.status_code == 400
    assert "locked" in locked.text.lower()
    unknown = _password_step(world, "nobody@north.example", "whatever it is")
    assert unknown.status_code == 400
    (lock,) = _audit(world, "sign_in_locked")
    assert lock.org_id == world.north.id  # her administrators see it
    assert {e.org_id for e in _audit(world, "sign_in_failed") if e.actor.startswith("nobody")} == {
        None
    }


def test_a_sign_in_form_without_its_token_is_refused(staff_world: StaffWorld) -> None:
    world = staff_world
    world.client.get("/staff/signin")
    answer = world.client.post(
        "/staff/signin", data={"email": "admin@north.example", "password": PASSWORD}
    )
    assert answer.status_code == 400
    assert world.client.cookies.get(SESSION_COOKIE) is None


def test_review_without_reveal_then_a_logged_reveal(staff_world: StaffWorld) -> None:
    world = staff_world
    csrf = world.sign_in_as(world.north, Role.CASE_WORKER)
    sighting_id = world.north.objects["sighting"]
    page = world.client.get(f"/staff/sightings/{sighting_id}")
    assert page.status_code == 200
    assert "data:image" not in page.text  # nothing shown until asked
    assert "distance" in page.text
    assert "12" in page.text
    preview = world.client.get(f"/staff/sightings/{sighting_id}/preview")
    assert preview.headers["content-type"] == "image/jpeg"
    assert preview.headers["cache-control"] == "no-store"
    assert _audit(world, "reveal") == []
    revealed = world.client.post(
        f"/staff/sightings/{sighting_id}/reveal",
        data={"csrf": csrf},
        headers={"HX-Request": "true"},
    )
    assert revealed.status_code == 200
    assert "data:image/jpeg;base64," in revealed.text
    assert "<html" not in revealed.text  # a fragment for the page, not a page
    assert revealed.headers["cache-control"] == "no-store"
    (entry,) = _audit(world, "reveal")
    assert (entry.actor, entry.target) == ("case_worker@north.example", f"sighting:{sighting_id}")
    assert re.search(r'id="exposure">1<', revealed.text)
    confirmed = world.client.post(
        f"/staff/sightings/{sighting_id}/review",
        data={"csrf": csrf, "decision": "confirm"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    with world.database().session() as session:
        assert session.get(Sighting, sighting_id).status is SightingStatus.CONFIRMED  # type: ignore[union-attr]


def test_revealing_evidence_is_in_the_custody_log(staff_world: StaffWorld) -> None:
    world = staff_world
    csrf = world.sign_in_as(world.north, Role.REVIEWER)
    evidence_id = world.north.objects["evidence"]
    with world.database().session() as session:
        before = session.scalar(select(func.count(CustodyEntry.id)))
    answer = world.client.post(f"/staff/evidence/{evidence_id}/reveal", data={"csrf": csrf})
    assert answer.status_code == 200
    assert "data:image/png;base64," in answer.text
    with world.database().session() as session:
        entries = list(session.scalars(select(CustodyEntry).order_by(CustodyEntry.id)))
        assert len(entries) == (before or 0) + 1
        assert '"event":"viewed"' in entries[-1].body
        assert "reviewer@north.example" in entries[-1].body


def test_a_minors_case_shows_no_media_to_anyone(staff_world: StaffWorld) -> None:
    world = staff_world
    with world.database().session() as session:
        case = session.get(Case, world.north.objects["case"])
        assert case is not None
        case.minor = True
    csrf = world.sign_in_as(world.north, Role.ADMIN)
    sighting_id = world.north.objects["sighting"]
    preview = world.client.get(f"/staff/sightings/{sighting_id}/preview")
    assert preview.headers["content-type"] == "image/svg+xml"  # a grey box
    for path in (f"/staff/sightings/{sighting_id}/reveal",
                 f"/staff/evidence/{world.north.objects['evidence']}/reveal"):  # fmt: skip
        answer = world.client.post(path, data={"csrf": csrf})
        assert answer.status_code in (403, 409)
        assert "data:image" not in answer.text
    assert _audit(world, "reveal") == []


def test_approving_a_notice_queues_its_mail(staff_world: StaffWorld) -> None:
    world = staff_world
    csrf = world.sign_in_as(world.north, Role.CASE_WORKER)
    notice_id = world.north.objects["notice"]
    page = world.client.get(f"/staff/notices/{notice_id}")
    assert "http://north.forum.example/post/2" in page.text  # the drafted notice, rendered
    assert "the site's abuse contact" in page.text  # the channel, named
    with world.database().session() as session:
        case = session.get(Case, world.north.objects["case"])
        assert case is not None
        assert case.number not in page.text
    answer = world.client.post(f"/staff/notices/{notice_id}/approve", data={"csrf": csrf})
    assert answer.status_code == 200  # followed back to the notice
    with world.database().session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        assert notice.state is NoticeState.APPROVED
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.notice_id == notice_id))
    assert [e.target for e in _audit(world, "notice_approved")] == [f"notice:{notice_id}"]


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_text_is_shown_inert(staff_world: StaffWorld) -> None:
    world = staff_world
    with world.database().session() as session:
        sighting = session.get(Sighting, world.north.objects["sighting"])
        evidence = session.get(Evidence, world.north.objects["evidence"])
        assert sighting is not None
        assert evidence is not None
        sighting.page_url = "http://forum.example/" + HOSTILE
        sighting.match = {**sighting.match, "variant": HOSTILE}
        evidence.title = HOSTILE
        evidence.url = "http://forum.example/?q=" + HOSTILE
    csrf = world.sign_in_as(world.north, Role.ADMIN)
    case_id = world.north.objects["case"]
    world.client.post(f"/staff/cases/{case_id}/notes", data={"csrf": csrf, "text": HOSTILE})
    world.client.post(
        "/staff/users",
        data={"csrf": csrf, "email": "new@north.example", "role": "reviewer", "name": HOSTILE},
    )
    pages = [
        f"/staff/cases/{case_id}",
        f"/staff/sightings/{world.north.objects['sighting']}",
        f"/staff/evidence/{world.north.objects['evidence']}",
        "/staff/users",
        "/staff/audit",
    ]
    for path in pages:
        text = world.client.get(path).text
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
    assert "&lt;script&gt;" in world.client.get(f"/staff/cases/{case_id}").text


def test_pages_carry_the_strict_headers(staff_world: StaffWorld) -> None:
    world = staff_world
    world.sign_in_as(world.north, Role.AUDITOR)
    for path in ("/staff/signin", "/staff/cases", "/staff/stats", "/staff/approvals"):
        answer = world.client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["cache-control"] == "no-store"
        assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
        assert "style=" not in answer.text, path  # the CSP would block it anyway


def test_session_ends_when_idle(staff_world: StaffWorld) -> None:
    world = staff_world
    world.sign_in_as(world.north, Role.ADMIN)
    with world.database().session() as session:
        for row in session.scalars(select(StaffSession)):
            row.last_seen = row.last_seen - timedelta(minutes=31)
    assert world.client.get("/staff/cases", follow_redirects=False).status_code == 303


def test_sign_in_posts_are_rate_limited_per_address(staff_world: StaffWorld) -> None:
    world = staff_world
    answers = [
        _password_step(world, f"nobody{i}@north.example", "wrong password").status_code
        for i in range(world.settings.staff_rate_per_minute + 1)
    ]
    assert answers[:-1] == [400] * world.settings.staff_rate_per_minute
    assert answers[-1] == 429
