"""Pages rendered by Debian's Chromium behind the guarding proxy: the proxy's checks, the
pictures only JavaScript shows, and a hostile page that tries every way out."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.monitor import render
from reclaim.monitor.engine import Monitor
from reclaim.monitor.errors import TimedOut
from reclaim.monitor.fetch import FetchLimits
from reclaim.monitor.guard import AddressPolicy, GuardedBackend, parse_networks
from reclaim.monitor.models import MediaUrl
from reclaim.monitor.proxy import GuardingProxy
from reclaim.monitor.render import CHROMIUM, Renderer
from reclaim.monitor.service import SourceOptions, add_source

from .conftest import PAGE, SITE_ADDRESS, Site, require_chromium, send

ALLOW = parse_networks(f"{SITE_ADDRESS}/32")


@pytest.fixture(scope="module")
def chromium() -> str:
    require_chromium()
    return CHROMIUM


@pytest.fixture
def proxy() -> Iterator[GuardingProxy]:
    backend = GuardedBackend(AddressPolicy(ALLOW))
    guarding = GuardingProxy(backend)
    yield guarding
    guarding.close()
    backend.close()


def _through(proxy: GuardingProxy, request: bytes, then: bytes | None = None) -> bytes:
    """Send ``request`` to the proxy (and ``then`` after its first answer); all it says."""
    host, port = proxy.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(request)
        answer = client.recv(65536)
        if then is not None and answer.startswith(b"HTTP/1.1 200"):
            client.sendall(then)
        chunks = [answer]
        while chunk := client.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_the_proxy_forwards_only_to_allowed_addresses(
    proxy: GuardingProxy, site: Site, trap: Site
) -> None:
    page = site.url("/page")
    plain = _through(proxy, f"GET {page} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert plain.startswith(b"HTTP/1.1 200")
    assert PAGE in plain
    target = f"{SITE_ADDRESS}:{site.port}"
    tunnel = _through(
        proxy,
        f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode(),
        f"GET /page HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n".encode(),
    )
    assert tunnel.startswith(b"HTTP/1.1 200 Connection Established")
    assert PAGE in tunnel
    for request in (
        f"CONNECT 127.0.0.1:{trap.port} HTTP/1.1\r\n\r\n",
        f"GET http://127.0.0.1:{trap.port}/ HTTP/1.1\r\n\r\n",
        f"GET http://[::ffff:127.0.0.1]:{trap.port}/ HTTP/1.1\r\n\r\n",
        "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n",
        f"GET http://user:pw@{target}/page HTTP/1.1\r\n\r\n",
        f"GET https://{target}/page HTTP/1.1\r\n\r\n",
        f"CONNECT {SITE_ADDRESS}:0 HTTP/1.1\r\n\r\n",
    ):
        answer = _through(proxy, request.encode())
        assert answer.startswith(b"HTTP/1.1 403"), (request, answer)
    assert _through(proxy, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert trap.accepted == 0  # not one connection reached it
    assert len(proxy.refused) == 7


HOSTILE = """<!doctype html><html><body>
<h1>hostile</h1>
<img src="/render/picture.png">
<img src="http://127.0.0.1:{trap}/img">
<img src="/render/redirect-to-trap">
<iframe src="http://[::ffff:127.0.0.1]:{trap}/frame"></iframe>
<link rel="prefetch" href="http://127.0.0.1:{trap}/prefetch">
<script>
fetch("http://127.0.0.1:{trap}/fetch").catch(() => {{}});
fetch("http://169.254.169.254/latest/meta-data/").catch(() => {{}});
try {{ new WebSocket("ws://127.0.0.1:{trap}/ws"); }} catch (e) {{}}
try {{ new EventSource("http://127.0.0.1:{trap}/events"); }} catch (e) {{}}
try {{ navigator.sendBeacon("http://127.0.0.1:{trap}/beacon", "x"); }} catch (e) {{}}
try {{ window.open("http://127.0.0.1:{trap}/popup"); }} catch (e) {{}}
try {{ new RTCPeerConnection({{iceServers: [{{urls: "stun:127.0.0.1:{trap}"}}]}}); }} catch (e) {{}}
navigator.serviceWorker && navigator.serviceWorker.register("/sw.js").catch(() => {{}});
const late = document.createElement("img");
late.src = "/render/late.png";
document.body.appendChild(late);
</script>
</body></html>"""

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
    "da63f8cfc0f01f0005000201a5f1e1a80000000049454e44ae426082"
)


@pytest.fixture
def hostile(site: Site, trap: Site) -> Iterator[Site]:
    routes = {
        "/render/": lambda h: send(h, 200, HOSTILE.format(trap=trap.port).encode(), "text/html"),
        "/render/picture.png": lambda h: send(h, 200, PNG, "image/png"),
        "/render/late.png": lambda h: send(h, 200, PNG, "image/png"),
        "/render/redirect-to-trap": lambda h: send(
            h, 302, b"", "text/plain", {"Location": f"http://127.0.0.1:{trap.port}/redirected"}
        ),
    }
    site.routes.update(routes)
    yield site
    for path in routes:
        site.routes.pop(path, None)


def test_a_hostile_page_reaches_nothing_but_the_site(
    chromium: str, hostile: Site, trap: Site
) -> None:
    renderer = Renderer(FetchLimits(allow=ALLOW), timeout=20)
    try:
        rendered = renderer.render(hostile.url("/render/"))
    finally:
        renderer.close()
    assert trap.accepted == 0  # not one connection reached it
    assert "hostile" in rendered.html.decode()
    loaded = {url.removeprefix(hostile.url("")) for url, _ in rendered.media}
    assert {"/render/picture.png", "/render/late.png"} <= loaded
    refused_hosts = {host for host, _ in renderer.proxy.refused}
    assert any(host.startswith("127.0.0.1") for host in refused_hosts)


def test_a_render_source_finds_what_only_javascript_shows(
    chromium: str, tmp_path: Path, database
) -> None:
    from reclaim.demo.site import serve

    demo = serve(SITE_ADDRESS, 0)
    settings = Settings(
        data_dir=tmp_path / "data", fetch_allow_networks=f"{SITE_ADDRESS}/32", fetch_retries=0
    )
    found = {}
    try:
        for render in (False, True):
            with database.session() as session:
                org = cases.get_org(session)
                source = add_source(
                    session,
                    org=org,
                    kind="reported" if render else "pages",
                    url=f"{demo.base_url}/gallery",
                    actor="test",
                    case=cases.open_case(session, org=org, actor="test") if render else None,
                    options=SourceOptions(min_delay=0.0, max_depth=0, render=render),
                )
                source_id = source.id
            with Monitor(database, settings) as monitor:
                monitor.run_once([source_id])
            with database.session() as session:
                found[render] = {
                    u.removeprefix(demo.base_url) for u in session.scalars(select(MediaUrl.url))
                }
    finally:
        demo.close()
    gallery = {"/img/full/u10.jpg", "/img/full/u11.jpg"}
    assert not gallery & found[False]  # the page's own HTML names none of them
    assert gallery <= found[True]


def test_a_page_that_never_yields_costs_one_browser_not_the_thread(
    chromium: str, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script that never yields leaves calls without a time limit (running a script,
    reading the DOM) waiting for good: the browser is killed under the job, the job fails
    as timed out, and the next page gets a fresh browser."""
    monkeypatch.setattr(render, "GRACE_SECONDS", 2.0)
    spin = (
        b"<!doctype html><p>spin</p><script>"
        b"addEventListener('load', () => setTimeout(() => { for (;;) {} }, 20))</script>"
    )
    site.routes["/render/spin"] = lambda h: send(h, 200, spin, "text/html")
    site.routes["/render/calm"] = lambda h: send(h, 200, PAGE, "text/html")
    renderer = Renderer(FetchLimits(allow=ALLOW), timeout=3)
    try:
        with pytest.raises(TimedOut, match="took longer than 3 s"):
            renderer.render(site.url("/render/spin"))
        assert [p for p in render._descendants(os.getpid()) if _is_chromium(p)] == []
        calm = renderer.render(site.url("/render/calm"))  # a fresh browser
        assert b"<html" in calm.html
    finally:
        renderer.close()
        site.routes.pop("/render/spin", None)
        site.routes.pop("/render/calm", None)
    assert [p for p in render._descendants(os.getpid()) if _is_chromium(p)] == []


def _is_chromium(pid: int) -> bool:
    return b"chromium" in render._command_line(pid)
