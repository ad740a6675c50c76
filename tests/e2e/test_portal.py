"""The survivor portal end to end, in Debian's Chromium against `reclaim serve --demo`:
she registers a demo picture (hashed in her browser: no byte of it leaves the browser),
signs in, sees the monitor's finds on the demo forum appear on her case page, and
withdraws -- after which her picture matches nothing. Every page is photographed in
Korean and English (build/screenshots/portal/)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conftest import Server, shoot

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "screenshots" / "portal"


@dataclass
class Traffic:
    """Every request the page made, with its body."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)

    def record(self, request: Any) -> None:
        self.requests.append((request.method, request.url, request.post_data_buffer or b""))


def _shoot(page: Any, name: str) -> None:
    shoot(page, SHOTS / f"{name}.png")


def test_a_survivor_registers_sees_the_finds_and_withdraws(server: Server, browser: Any) -> None:
    context = browser.new_context(
        locale="ko-KR", extra_http_headers={"Accept-Language": "ko-KR,ko"}
    )
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    traffic = Traffic()
    page.on("request", traffic.record)

    page.goto(server.url + "/")
    assert "내 사건 보기" in page.content()
    _shoot(page, "home-ko")
    page.goto(server.url + "/register")
    _shoot(page, "register-ko")
    photo, clip = server.media / "photo-1.jpg", server.media / "clip.mp4"
    page.set_input_files("#file-picker", [str(photo), str(clip)])
    page.wait_for_selector("#register-submit:not([disabled])")
    page.check("#consent_search")
    page.check("#consent_takedown")
    page.click("#register-submit")
    page.wait_for_selector("#case-number")
    _shoot(page, "registered-ko")
    number = page.inner_text("#case-number")
    passphrase = page.inner_text("#passphrase")

    # No byte of the picture or the video left the browser: only their hashes were posted.
    for path in (photo, clip):
        body = path.read_bytes()
        probes = [body[i : i + 48] for i in range(1000, len(body) - 48, len(body) // 8)]
        for method, url, sent in traffic.requests:
            assert all(probe not in sent for probe in probes), f"{path.name} in {method} {url}"
    posted = [(url, sent) for method, url, sent in traffic.requests if method == "POST"]
    assert [url for url, _ in posted] == [server.url + "/register"]
    assert len(posted[0][1]) < len(photo.read_bytes()) + len(clip.read_bytes())
    assert b"photo-1" not in posted[0][1]  # not even their names
    assert b"clip" not in posted[0][1]
    assert b"vpdq" in posted[0][1]  # the video was hashed frame by frame in the browser

    page.goto(server.url + "/signin")
    _shoot(page, "signin-ko")
    page.fill("#number", number)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/case")
    assert "파일 2개를 등록했습니다." in page.content()

    # The monitor crawls the demo forum and finds the altered copies of her picture.
    crawl = subprocess.run(
        [sys.executable, "-m", "reclaim.cli", "monitor", "run", "--once"],
        env={
            **server.env,
            "RECLAIM_DATA_DIR": str(server.data),
            "RECLAIM_FETCH_ALLOW_NETWORKS": "127.0.0.2/32",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert crawl.returncode == 0, crawl.stderr
    page.reload()
    found = re.search(r"복제본 (\d+)개", page.content())
    assert found, "no copies on her case page"
    assert int(found.group(1)) >= 2  # the picture's copy and the re-encoded video
    _shoot(page, "case-ko")
    page.click("text=사이트 이름 보기")
    assert "127.0.0.2" in page.content()

    for name, path in [
        ("home", "/"),
        ("register", "/register"),
        ("signin", "/signin"),
        ("case", "/case"),
        ("withdraw", "/case/withdraw"),
        ("recover", "/recover"),
    ]:
        page.goto(server.url + f"/lang/en?next={path}")
        _shoot(page, f"{name}-en")
    assert "What happened" in page.goto(server.url + "/case").text()  # type: ignore[union-attr]

    page.goto(server.url + "/case/withdraw")
    page.check("#confirm")
    page.click("button.danger")
    page.wait_for_selector("text=Your case is withdrawn")
    _shoot(page, "withdrawn-en")
    assert errors == []
    context.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    small.goto(server.url + "/register")
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    _shoot(small, "register-phone")
    phone.close()
    _matches_nothing(server, photo)


def _matches_nothing(server: Server, photo: Path) -> None:
    from reclaim.banks.replica import MatcherCache
    from reclaim.cases import service as cases
    from reclaim.config import Settings
    from reclaim.signals.filehash import HashRequest, hash_file
    from reclaim.store import open_database

    database = open_database(Settings(data_dir=server.data))
    try:
        with database.session() as session:
            org = cases.get_org(session)
            signals = hash_file(HashRequest(str(photo))).signals
            assert MatcherCache().match(session, org=org, shared_only=False, signals=signals) == []
    finally:
        database.dispose()
