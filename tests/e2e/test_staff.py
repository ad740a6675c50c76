"""The staff app end to end, in Debian's Chromium against `reclaim serve`: a case worker
signs in with a password and a TOTP code (enrolling her authenticator first), reviews a
sighting without revealing it, reveals one with the keyboard (an administrator then finds
the reveal in the audit log), approves a takedown notice that the local SMTP server then
receives, and reads the statistics. Every page is photographed in Korean and English
(build/screenshots/staff/), and every page passes axe-core's WCAG A/AA rules."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.cases.audit import AuditEntry
from reclaim.config import Settings
from reclaim.store.blobs import BlobStore
from reclaim.store.db import open_database
from reclaim.store.envelope import MasterKey
from reclaim.takedown import outbox
from tests.takedown.conftest import Mailbox, free_port
from tests.web.ui.conftest import PASSWORD, Org, populate, staff_settings

from .conftest import _free_port, _wait_for, shoot
from .test_accessibility import _axe, violations

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "screenshots" / "staff"


@dataclass
class StaffServer:
    url: str
    settings: Settings
    north: Org
    mailbox: Mailbox


@pytest.fixture(scope="module")
def staff_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffServer]:
    from tests.monitor.conftest import require_chromium

    require_chromium()
    data = tmp_path_factory.mktemp("staff")
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {
        "RECLAIM_DATA_DIR": str(data),
        "RECLAIM_SMTP_HOST": "127.0.0.1",
        "RECLAIM_SMTP_PORT": str(smtp.port),
        "RECLAIM_SMTP_SECURITY": "none",
        "RECLAIM_MAIL_FROM": "notices@north.example",
        "RECLAIM_STAFF_ARGON2_MEMORY_KIB": "8192",
        "RECLAIM_STAFF_ARGON2_TIME_COST": "1",
    }
    settings = staff_settings(
        data,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_from="notices@north.example",
    )
    master = MasterKey.create(settings.resolved_master_key_file)
    database = open_database(settings)
    with database.session() as session:
        org = cases.create_org(session, slug="north", name="North centre")
        org.contact_email = "desk@north.example"
        north = populate(session, org, master, BlobStore(data / "blobs", master), settings)
    database.dispose()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "reclaim.cli", "serve", "--no-worker", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/staff/signin")
        yield StaffServer(f"http://127.0.0.1:{port}", settings, north, mailbox)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        smtp.stop()


def _shoot(page: Any, name: str) -> None:
    shoot(page, SHOTS / f"{name}.png")


def _sign_in(page: Any, url: str, email: str, settings: Settings, shots: str = "") -> None:
    """Password, then the code -- enrolling the authenticator the first time."""
    page.goto(url + "/staff")
    page.wait_for_url(url + "/staff/signin")
    if shots:
        _shoot(page, f"signin-{shots}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/staff/signin/code")
    key = page.locator("#totp-key")
    if key.count():
        secret = key.inner_text().replace(" ", "")
        assert page.locator("figure.qr svg").count() == 1
        if shots:
            _shoot(page, f"enrol-{shots}")
    else:
        secret = _stored_secret(settings, email)
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_url(url + "/staff/cases")


def _stored_secret(settings: Settings, email: str) -> str:
    from reclaim.cases.staff import StaffUser

    master = MasterKey.load(settings.resolved_master_key_file)
    database = open_database(settings)
    try:
        with database.session() as session:
            user = session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
            assert user.totp_sealed is not None
            return master.unwrap(user.totp_sealed, f"staff-totp:{user.id}").decode()
    finally:
        database.dispose()


def test_a_case_worker_reviews_reveals_approves_and_reads_the_statistics(
    staff_server: StaffServer, browser: Any
) -> None:
    server = staff_server
    context = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    _sign_in(page, server.url, "case_worker@north.example", server.settings, shots="en")
    _shoot(page, "cases-en")

    # Review without revealing: the match evidence, a veiled preview, nothing else.
    page.click("nav a[href='/staff/review']")
    sighting = server.north.objects["sighting"]
    page.wait_for_url(f"{server.url}/staff/sightings/{sighting}")
    assert "distance" in page.content()
    veiled = page.locator("img.veiled")
    assert veiled.count() == 1
    assert veiled.get_attribute("src") == f"/staff/sightings/{sighting}/preview"
    assert "data:image" not in page.content()
    assert page.inner_text("#exposure") == "0"
    _shoot(page, "sighting-veiled-en")

    # Reveal one, with the keyboard: the picture comes inside the answer, once.
    page.keyboard.press("v")
    page.wait_for_selector("#media-area .revealed img[src^='data:image/jpeg']")
    assert page.url == f"{server.url}/staff/sightings/{sighting}"  # swapped in place (htmx)
    assert page.inner_text("#exposure") == "1"
    _shoot(page, "sighting-revealed-en")
    # confirm: it is her. The answer is a new page; wait for it to load, or the next
    # goto would abort it halfway (the URL already matched the pattern before the press).
    with page.expect_navigation(url=re.compile(r".*/staff/(review|sightings/\d+).*")):
        page.keyboard.press("c")

    # Approve the drafted notice: the outbox sends it to the local SMTP server.
    page.goto(server.url + "/staff/approvals")
    _shoot(page, "approvals-en")
    notice = server.north.objects["notice"]
    page.click(f"a[href='/staff/notices/{notice}']")
    assert "http://north.forum.example/post/2" in page.content()
    _shoot(page, "notice-en")
    page.click("button[data-key='a']")
    page.wait_for_url(f"{server.url}/staff/notices/{notice}")
    assert "approved" in page.inner_text("h1")
    report = outbox.send_due(open_database(server.settings), server.settings)  # the send task
    assert report.sent == 1
    (mail,) = server.mailbox.accepted
    assert mail.rcpt_tos == ["abuse@north.forum.example"]
    assert b"http://north.forum.example/post/2" in (mail.original_content or b"")

    page.click("nav a[href='/staff/stats']")
    page.wait_for_url(server.url + "/staff/stats")
    assert page.locator("svg.chart").count() >= 2
    _shoot(page, "stats-en")

    # An administrator finds the reveal in the audit log.
    admin = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 900})
    admin_page = admin.new_page()
    _sign_in(admin_page, server.url, "admin@north.example", server.settings)
    admin_page.goto(server.url + "/staff/audit?action=reveal")
    rows = admin_page.locator("tbody tr").all_inner_texts()
    assert any("case_worker@north.example" in r and f"sighting:{sighting}" in r for r in rows)
    _shoot(admin_page, "audit-en")
    admin.close()

    # The same pages in Korean.
    page.click("a[hreflang='ko']")
    page.wait_for_load_state()
    for path, name in (
        ("/staff/cases", "cases"),
        (f"/staff/sightings/{sighting}", "sighting"),
        ("/staff/approvals", "approvals"),
        (f"/staff/notices/{notice}", "notice"),
        ("/staff/stats", "stats"),
    ):
        page.goto(server.url + path)
        assert '<html lang="ko">' in page.content()
        _shoot(page, f"{name}-ko")
    assert "사건" in page.inner_text("nav")
    context.close()
    assert problems == []
    with open_database(server.settings).session() as session:
        reveals = session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal"))
        assert [(r.actor, r.target) for r in reveals] == [
            ("case_worker@north.example", f"sighting:{sighting}")
        ]


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_staff_page_passes_wcag_aa(
    staff_server: StaffServer, browser: Any, language: str
) -> None:
    server = staff_server
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/staff/lang/{language}?next=/staff/signin")
    script = _axe()
    pages = ["/staff/signin"]
    problems: dict[str, list[str]] = {}

    def audit(path: str) -> None:
        page.goto(server.url + path)
        found = violations(page, script)
        if found:
            problems[path] = found

    audit(pages[0])
    # One person per language: a TOTP code is accepted once, and both runs fit in one step.
    who = "reviewer" if language == "ko" else "auditor"
    _sign_in(page, server.url, f"{who}@north.example", server.settings)
    objects = server.north.objects
    for path in (
        "/staff/cases",
        "/staff/cases?show=all",
        f"/staff/cases/{objects['case']}",
        f"/staff/sightings/{objects['sighting']}",
        f"/staff/evidence/{objects['evidence']}",
        "/staff/approvals",
        f"/staff/notices/{objects['notice']}",
        "/staff/stats",
        "/staff/review",
    ):
        audit(path)
    context.close()
    assert problems == {}
