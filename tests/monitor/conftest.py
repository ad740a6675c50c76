"""A hostile little web site on loopback, for the fetcher's tests.

It listens on 127.0.0.2 (the only address the tests allow) and serves pages, redirects,
bombs, drips and flaky answers; a second server on 127.0.0.1 (never allowed) counts every
request that reaches it, so a test can prove the guard stopped a request before it left.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import pytest

SITE_ADDRESS = "127.0.0.2"


def require_chromium() -> None:
    """Skip a test that needs Debian's Chromium where it is missing -- but fail in CI,
    where scripts/setup installs it, so a browser test can never pass by skipping."""
    from reclaim.monitor.render import CHROMIUM

    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: scripts/setup installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Site:
    server: ThreadingHTTPServer
    routes: dict[str, Route]
    hits: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    """Connections accepted (a connection that never sends a request counts too)."""

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str, host: str = SITE_ADDRESS) -> str:
        return f"http://{host}:{self.port}{path}"


def _serve(address: str, routes: dict[str, Route]) -> Site:
    site: Site

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            site.hits.append((path, {k.lower(): v for k, v in self.headers.items()}))
            route = site.routes.get(path)
            if route is None:
                send(self, 404, b"not found", "text/plain")
            else:
                route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def verify_request(self, request: object, client_address: object) -> bool:
            site.accepted += 1
            return True

    server = Server((address, 0), Handler)
    server.daemon_threads = True
    site = Site(server, routes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return site


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def chunked(handler: BaseHTTPRequestHandler, content_type: str, chunks: Iterator[bytes]) -> None:
    """A body without Content-Length, sent in chunks as they come."""
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    try:
        for chunk in chunks:
            handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the fetcher hung up, as it should


PAGE = "<html><body><h1>게시판</h1><img src='/image.png'></body></html>".encode()
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
    "da63f8cfc0f01f0005000201a5f1e1a80000000049454e44ae426082"
)
BOMB_SIZE = 64 * 1024 * 1024


def _routes(site: Callable[[], Site]) -> dict[str, Route]:
    def flaky(handler: BaseHTTPRequestHandler) -> None:
        counters = site().counters
        counters["flaky"] = counters.get("flaky", 0) + 1
        if counters["flaky"] <= 2:
            send(handler, 503, b"busy", "text/plain")
        else:
            send(handler, 200, PAGE, "text/html; charset=utf-8")

    def drip(handler: BaseHTTPRequestHandler) -> None:
        def slowly() -> Iterator[bytes]:
            for _ in range(100):
                time.sleep(0.2)
                yield b"x"

        chunked(handler, "text/html", slowly())

    def endless(handler: BaseHTTPRequestHandler) -> None:
        chunked(handler, "image/jpeg", iter(lambda: b"\xff" * 65536, None))

    def encoded(body: bytes, encoding: str) -> Route:
        return lambda h: send(h, 200, body, "text/html", {"Content-Encoding": encoding})

    gzip_bomb = gzip.compress(b"\0" * BOMB_SIZE, compresslevel=9)
    brotli_bomb = brotli.compress(b"\0" * BOMB_SIZE, quality=5)
    deflate_raw = zlib.compressobj(wbits=-15)
    raw_page = deflate_raw.compress(PAGE) + deflate_raw.flush()

    return {
        "/page": lambda h: send(h, 200, PAGE, "text/html; charset=utf-8"),
        "/image.png": lambda h: send(h, 200, PNG, "image/png"),
        "/video.mp4": lambda h: send(h, 200, b"\0\0\0\x18ftypmp42" + b"\0" * 1000, "video/mp4"),
        "/gone": lambda h: send(h, 410, b"gone", "text/plain"),
        "/gzip": encoded(gzip.compress(PAGE), "gzip"),
        "/br": encoded(brotli.compress(PAGE), "br"),
        "/deflate-raw": encoded(raw_page, "deflate"),
        "/gzip-bomb": encoded(gzip_bomb, "gzip"),
        "/br-bomb": encoded(brotli_bomb, "br"),
        "/double-bomb": encoded(gzip.compress(gzip_bomb), "gzip, gzip"),
        "/corrupt-gzip": encoded(b"\x1f\x8b\x08\x00garbage-not-deflate", "gzip"),
        "/unknown-encoding": encoded(PAGE, "zstd2"),
        "/declared-huge": lambda h: (
            h.send_response(200),
            h.send_header("Content-Type", "image/jpeg"),
            h.send_header("Content-Length", str(10**12)),
            h.end_headers(),
        ),
        "/endless-image": endless,
        "/drip": drip,
        "/flaky": flaky,
        "/always-busy": lambda h: send(h, 503, b"busy", "text/plain", {"Retry-After": "0"}),
        "/redirect": lambda h: send(h, 302, b"", "text/plain", {"Location": "/page"}),
        "/redirect-loop": lambda h: send(h, 302, b"", "text/plain", {"Location": "/redirect-loop"}),
        "/redirect-file": lambda h: send(
            h, 302, b"", "text/plain", {"Location": "file:///etc/passwd"}
        ),
        "/redirect-loopback": lambda h: send(
            h, 301, b"", "text/plain", {"Location": f"http://127.0.0.1:{site().counters['trap']}/"}
        ),
        "/redirect-metadata": lambda h: send(
            h, 307, b"", "text/plain", {"Location": "http://169.254.169.254/latest/meta-data/"}
        ),
        "/set-cookie": lambda h: send(
            h, 200, PAGE, "text/html", {"Set-Cookie": "session=abc; Path=/"}
        ),
        "/echo": lambda h: send(h, 200, repr(dict(h.headers.items())).encode(), "text/plain"),
        "/binary": lambda h: send(h, 200, b"\0" * 100, "application/octet-stream"),
    }


@pytest.fixture(scope="session")
def trap() -> Iterator[Site]:
    """A server on 127.0.0.1, which no test allows: it must never see a request."""
    site = _serve("127.0.0.1", {})
    yield site
    site.server.shutdown()


@pytest.fixture(scope="session")
def site(trap: Site) -> Iterator[Site]:
    holder: list[Site] = []
    served = _serve(SITE_ADDRESS, _routes(lambda: holder[0]))
    holder.append(served)
    served.counters["trap"] = trap.port
    yield served
    served.server.shutdown()
