"""Capturing pages of the demo forum with the real Chromium, packaging them as sealed WACZ
files, and checking them offline -- with every kind of tampering detected and hostile
pages and archives refused."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from reclaim.cases import service as cases
from reclaim.demo.site import DemoSite, serve
from reclaim.evidence.capture import Capture, CaptureFailed, Capturer
from reclaim.evidence.keys import create_key, signer
from reclaim.evidence.wacz import PackageInvalid, Sealed, check_package, package
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import parse_networks
from reclaim.monitor.render import GuardedBrowser
from reclaim.store.envelope import MasterKey

from ..monitor.conftest import SITE_ADDRESS, Site, require_chromium, send

LIMITS = FetchLimits(allow=parse_networks(f"{SITE_ADDRESS}/32"), retries=0)


@pytest.fixture(scope="module")
def capturer() -> Iterator[Capturer]:
    require_chromium()
    browser = GuardedBrowser(LIMITS, timeout=15)
    fetcher = Fetcher(LIMITS)
    yield Capturer(browser, fetcher)
    browser.close()
    fetcher.close()


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSite]:
    site = serve(SITE_ADDRESS, 0)
    yield site
    site.close()


@pytest.fixture
def keys(database, tmp_path: Path):
    master = MasterKey.create(tmp_path / "master.key")
    with database.session() as session:
        org = cases.get_org(session)
        key = create_key(session, org=org, master=master)
        return signer(session, org=org, master=master), {key.key_id: key.public_key}


@pytest.fixture(scope="module")
def captured(capturer: Capturer, demo: DemoSite) -> Capture:
    return capturer.capture(f"{demo.base_url}/go/2", [f"{demo.base_url}/img/full/t1.jpg"])


def test_a_capture_keeps_what_the_browser_saw(captured: Capture, demo: DemoSite) -> None:
    facts = captured.facts()
    assert facts["final_url"] == f"{demo.base_url}/thread/2"
    assert facts["redirects"] == [{"url": f"{demo.base_url}/go/2", "status": 302}]
    assert facts["server_address"] == SITE_ADDRESS  # the server's, not the proxy's
    assert facts["status"] == 200
    assert facts["user_agent"] == LIMITS.user_agent
    assert facts["viewport"] == {"width": 1280, "height": 1600}
    assert facts["title"] == "게시물 2"
    assert captured.screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    assert "t2-mirror.jpg" in captured.dom.decode()
    records = list(ArchiveIterator(io.BytesIO(captured.warc)))
    responses = {
        r.rec_headers.get_header("WARC-Target-URI"): r for r in records if r.rec_type == "response"
    }
    requests = [r for r in records if r.rec_type == "request"]
    assert records[0].rec_type == "warcinfo"
    assert f"{demo.base_url}/thread/2" in responses
    assert f"{demo.base_url}/img/full/t1.jpg" in responses  # the matched medium, fetched
    for record in responses.values():
        assert record.rec_headers.get_header("WARC-IP-Address") == SITE_ADDRESS
        assert record.rec_headers.get_header("WARC-Payload-Digest")
    assert len(requests) == captured.exchanges
    (medium,) = captured.media
    assert medium["from"] == "fetched after the page"
    assert len(medium["sha256"]) == 64


def test_a_sealed_package_checks_out_offline(captured: Capture, keys) -> None:
    signer_, public = keys
    sealed = package(captured, signer_, case="K7Q-4M2-XP9")
    report = check_package(sealed.data, public)
    assert report.key_id == signer_.key_id
    assert len(report.checked) == 7  # five files, the index, the seal
    assert report.facts["case"] == "K7Q-4M2-XP9"
    with zipfile.ZipFile(io.BytesIO(sealed.data)) as archive:
        names = archive.namelist()
        datapackage = json.loads(archive.read("datapackage.json"))
    assert names[0] == "archive/data.warc.gz"
    assert datapackage["wacz_version"] == "1.1.1"
    assert {r["path"] for r in datapackage["resources"]} == {
        "archive/data.warc.gz",
        "pages/pages.jsonl",
        "capture/screenshot.png",
        "capture/dom.html",
        "capture/capture.json",
    }


def _members(sealed: Sealed) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(sealed.data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


def test_every_kind_of_tampering_is_detected(captured: Capture, keys, capturer, demo) -> None:
    signer_, public = keys
    sealed = package(captured, signer_)
    members = _members(sealed)
    # One flipped byte anywhere in the file: found against the file's sealed SHA-256, and
    # (unless it fell in zip metadata the seal does not cover) by the package's own checks.
    content_caught = 0
    for offset in range(0, len(sealed.data), max(1, len(sealed.data) // 300)):
        flipped = bytearray(sealed.data)
        flipped[offset] ^= 0x01
        with pytest.raises(PackageInvalid, match="SHA-256 differs"):
            check_package(bytes(flipped), public, expected_sha256=sealed.sha256)
        try:
            check_package(bytes(flipped), public)
        except PackageInvalid:
            content_caught += 1
    assert content_caught > 250
    # One flipped byte in each file's content, the archive rebuilt around it.
    for name, body in members.items():
        for offset in (0, len(body) // 2, len(body) - 1):
            changed = bytearray(body)
            changed[offset] ^= 0x01
            with pytest.raises(PackageInvalid, match=name.replace(".", r"\.") + "|index|seal"):
                check_package(_zip({**members, name: bytes(changed)}), public)
        with pytest.raises(PackageInvalid, match="missing"):
            check_package(_zip({k: v for k, v in members.items() if k != name}), public)
    with pytest.raises(PackageInvalid, match="not in its index"):
        check_package(_zip({**members, "archive/extra.warc.gz": b"more"}), public)
    other = package(capturer.capture(f"{demo.base_url}/thread/3"), signer_)
    swapped = {**members, "archive/data.warc.gz": _members(other)["archive/data.warc.gz"]}
    with pytest.raises(PackageInvalid, match=r"archive/data\.warc\.gz"):
        check_package(_zip(swapped), public)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from reclaim.evidence.keys import raw_public

    stranger = raw_public(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(PackageInvalid, match="public key"):
        check_package(sealed.data, {signer_.key_id: stranger})  # the public key replaced
    with pytest.raises(PackageInvalid, match="not a key given"):
        check_package(sealed.data, {})
    digest = json.loads(members["datapackage-digest.json"])
    digest["signedData"]["signature"] = "00" * 64
    forged = {**members, "datapackage-digest.json": json.dumps(digest).encode()}
    with pytest.raises(PackageInvalid, match="signature"):
        check_package(_zip(forged), public)


def test_hostile_archives_are_refused_without_writing_anything(tmp_path: Path, keys) -> None:
    _, public = keys
    bomb = io.BytesIO()  # 1 GB of zeros in about 1 MB
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("archive/data.warc.gz", "w", force_zip64=True) as member,
    ):
        for _ in range(1024):
            member.write(b"\0" * (1 << 20))
    index = io.BytesIO()  # an index far larger than any index
    with zipfile.ZipFile(index, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("datapackage.json", b" " * 70_000_000)
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as archive:
        archive.writestr("../../etc/passwd", b"root")
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    before = set(os.listdir(tmp_path))
    for data, reason in (
        (b"garbage, not a zip", "not a zip"),
        (empty.getvalue(), "empty"),
        (bomb.getvalue(), "bomb"),
        (index.getvalue(), "larger than"),
        (traversal.getvalue(), "unsafe"),
    ):
        with pytest.raises(PackageInvalid, match=reason):
            check_package(data, public)
    assert set(os.listdir(tmp_path)) == before


def test_hostile_pages_fail_clearly_and_reach_nothing(
    capturer: Capturer, site: Site, trap: Site
) -> None:
    routes = {
        "/capture/to-trap": lambda h: send(
            h, 302, b"", "text/plain", {"Location": f"http://127.0.0.1:{trap.port}/"}
        ),
        "/capture/download": lambda h: send(
            h,
            200,
            b"\0" * 1000,
            "application/octet-stream",
            {"Content-Disposition": "attachment; filename=x.bin"},
        ),
    }
    site.routes.update(routes)
    try:
        for path in ("/capture/to-trap", "/capture/download", "/drip"):
            with pytest.raises(CaptureFailed):
                capturer.capture(site.url(path))
    finally:
        for path in routes:
            site.routes.pop(path, None)
    assert trap.accepted == 0


def test_a_minors_case_keeps_no_picture(
    capturer: Capturer, demo: DemoSite, captured: Capture
) -> None:
    kept = capturer.capture(
        f"{demo.base_url}/thread/2", [f"{demo.base_url}/img/full/t2-mirror.jpg"], redact=True
    )
    assert kept.redacted
    assert kept.facts()["redacted"] is True
    assert kept.media == [{"url": f"{demo.base_url}/img/full/t2-mirror.jpg", "kept": False}]
    pictures = 0
    for record in ArchiveIterator(io.BytesIO(kept.warc)):
        if record.rec_type != "response":
            continue
        kind = record.http_headers.get_header("Content-Type") or ""
        body = record.content_stream().read()
        if kind.startswith("image/"):
            pictures += 1
            assert body == b""
            assert record.http_headers.get_header("X-Reclaim-Redacted").startswith("sha256=")
        else:
            assert not body.startswith((b"\xff\xd8\xff", b"\x89PNG"))
    assert pictures >= 1
    import numpy as np
    from PIL import Image

    def detail(png: bytes) -> float:
        shot = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)
        return float(np.abs(np.diff(shot, axis=1)).mean())

    assert detail(kept.screenshot) < 1.5  # nothing but soft blobs of colour
    assert detail(captured.screenshot) > 3 * detail(kept.screenshot)  # unlike the page


ENDLESS_SCROLL = b"""<!doctype html><html><body><div id="feed"></div><script>
let n = 0;
function more() { for (let i = 0; i < 20; i++) { const p = document.createElement("p");
  p.textContent = "post " + (n++); p.style.height = "120px";
  document.getElementById("feed").appendChild(p); } }
more(); window.addEventListener("scroll", more);
</script></body></html>"""


def test_endless_pages_and_huge_bodies_are_bounded(site: Site) -> None:
    require_chromium()
    from reclaim.monitor.fetch import Fetcher

    from ..monitor.conftest import chunked

    def huge(handler) -> None:  # 500 MB of HTML, as fast as loopback goes
        chunked(handler, "text/html", (b"<p>" + b"x" * 65536 for _ in range(8000)))

    site.routes["/capture/endless-scroll"] = lambda h: send(h, 200, ENDLESS_SCROLL, "text/html")
    site.routes["/capture/huge"] = huge
    browser = GuardedBrowser(LIMITS, timeout=10, max_bytes=5 * 1024 * 1024)
    fetcher = Fetcher(LIMITS)
    try:
        capturer = Capturer(browser, fetcher)
        scrolled = capturer.capture(site.url("/capture/endless-scroll"))
        assert b"post 0" in scrolled.dom  # taken as it was when time was up
        try:
            cut = capturer.capture(site.url("/capture/huge"))
        except CaptureFailed:
            pass  # refused outright: fine
        else:
            assert len(cut.warc) < 10 * 1024 * 1024  # or kept only what the limit let through
    finally:
        browser.close()
        fetcher.close()
        site.routes.pop("/capture/endless-scroll", None)
        site.routes.pop("/capture/huge", None)


def test_a_page_that_compresses_very_well_is_not_taken_for_a_bomb(keys) -> None:
    from datetime import UTC, datetime

    signer_, public = keys
    dom = b"<p>post</p>" * 2_000_000  # 22 MB that deflates some 500-fold
    capture = Capture(
        url="https://forum.example/t/1",
        final_url="https://forum.example/t/1",
        captured_at=datetime.now(UTC),
        user_agent="test",
        viewport={"width": 1, "height": 1},
        title="",
        screenshot=b"\x89PNG\r\n\x1a\n",
        dom=dom,
        warc=b"",
    )
    sealed = package(capture, signer_)
    assert len(sealed.data) < len(dom) // 100
    check_package(sealed.data, public)
