"""The fetcher against a real (hostile) site on loopback: limits, bombs, drips, redirects,
retries, and the SSRF guard on every connection."""

from __future__ import annotations

import ssl
import subprocess
import threading
import zlib
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reclaim.config import Settings
from reclaim.monitor.decode import decoded
from reclaim.monitor.errors import (
    DecodeFailed,
    FetchFailed,
    FetchRefused,
    TimedOut,
    TooLarge,
    TooManyRedirects,
    Unreachable,
    Unwanted,
)
from reclaim.monitor.fetch import Fetcher, FetchLimits, Kind, kind_of
from reclaim.monitor.guard import parse_networks

from .conftest import BOMB_SIZE, PAGE, PNG, SITE_ADDRESS, Site, send

ALLOW = parse_networks(f"{SITE_ADDRESS}/32")


def _limits(**changes: object) -> FetchLimits:
    base = {
        "allow": ALLOW,
        "retries": 2,
        "total_timeout": 10.0,
        "page_bytes": 1024 * 1024,
        "image_bytes": 1024 * 1024,
        "video_bytes": 1024 * 1024,
    }
    base.update(changes)
    return FetchLimits(**base)  # type: ignore[arg-type]


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(_limits()) as made:
        yield made


def test_a_page_is_fetched_with_its_address_and_an_honest_agent(
    fetcher: Fetcher, site: Site
) -> None:
    fetched = fetcher.get(site.url("/page"))
    assert (fetched.status, fetched.kind, fetched.body) == (200, Kind.PAGE, PAGE)
    assert fetched.address == SITE_ADDRESS
    assert fetched.size == len(PAGE)
    assert fetched.http_version == "HTTP/1.1"
    headers = dict(site.hits[-1][1])
    assert headers["user-agent"].startswith("Reclaim-monitor/")
    assert "cookie" not in headers


def test_error_statuses_are_returned_not_raised(fetcher: Fetcher, site: Site) -> None:
    assert fetcher.get(site.url("/gone")).status == 410
    assert fetcher.get(site.url("/no-such-page")).status == 404


@pytest.mark.parametrize("path", ["/gzip", "/br", "/deflate-raw"])
def test_compressed_bodies_are_decoded(fetcher: Fetcher, site: Site, path: str) -> None:
    assert fetcher.get(site.url(path)).body == PAGE


@pytest.mark.parametrize("path", ["/gzip-bomb", "/br-bomb", "/double-bomb"])
def test_decompression_bombs_stop_at_the_limit(fetcher: Fetcher, site: Site, path: str) -> None:
    with pytest.raises(TooLarge, match="limit"):
        fetcher.get(site.url(path))
    assert 64 * fetcher.limits.page_bytes <= BOMB_SIZE


@pytest.mark.parametrize(
    ("path", "error"),
    [("/corrupt-gzip", "corrupt"), ("/unknown-encoding", "unsupported content encoding")],
)
def test_undecodable_bodies_are_refused_clearly(
    fetcher: Fetcher, site: Site, path: str, error: str
) -> None:
    with pytest.raises(DecodeFailed, match=error):
        fetcher.get(site.url(path))


def test_declared_and_streamed_sizes_are_bounded(fetcher: Fetcher, site: Site) -> None:
    with pytest.raises(TooLarge, match="declared"):
        fetcher.get(site.url("/declared-huge"))
    with pytest.raises(TooLarge, match="image"):
        fetcher.get(site.url("/endless-image"))


def test_a_server_dripping_bytes_cannot_stretch_the_deadline(site: Site) -> None:
    with (
        Fetcher(_limits(total_timeout=1.0, read_timeout=5.0)) as fetcher,
        pytest.raises(TimedOut, match="longer than 1 s"),
    ):
        fetcher.get(site.url("/drip"))


def test_transient_failures_are_retried(fetcher: Fetcher, site: Site) -> None:
    site.counters["flaky"] = 0
    assert fetcher.get(site.url("/flaky")).body == PAGE
    assert site.counters["flaky"] == 3


def test_retries_give_up_and_return_the_last_answer(site: Site) -> None:
    with Fetcher(_limits(retries=1)) as fetcher:
        before = sum(1 for path, _ in site.hits if path == "/always-busy")
        assert fetcher.get(site.url("/always-busy")).status == 503
        assert sum(1 for path, _ in site.hits if path == "/always-busy") - before == 2


def test_unreachable_hosts_fail_clearly(trap: Site) -> None:
    with (
        Fetcher(_limits(retries=1, allow=parse_networks("127.0.0.3/32"))) as fetcher,
        pytest.raises(Unreachable, match=r"127\.0\.0\.3"),
    ):
        fetcher.get("http://127.0.0.3:9/")  # nothing listens on the discard port


def test_redirects_are_followed_and_recorded(fetcher: Fetcher, site: Site) -> None:
    fetched = fetcher.get(site.url("/redirect"))
    assert fetched.body == PAGE
    assert fetched.final_url == site.url("/page")
    assert [(hop.status, hop.address) for hop in fetched.redirects] == [(302, SITE_ADDRESS)]


def test_redirect_loops_end(fetcher: Fetcher, site: Site) -> None:
    with pytest.raises(TooManyRedirects):
        fetcher.get(site.url("/redirect-loop"))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/redirect-file", "only http and https"),
        ("/redirect-loopback", "loopback"),
        ("/redirect-metadata", "link-local"),
    ],
)
def test_redirects_to_forbidden_places_are_refused(
    fetcher: Fetcher, site: Site, trap: Site, path: str, message: str
) -> None:
    with pytest.raises(FetchRefused, match=message):
        fetcher.get(site.url(path))
    assert trap.accepted == 0  # not one connection reached it


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f.0.0.1", "127.1", "localhost"],
)
def test_loopback_in_any_spelling_is_refused_before_connecting(
    fetcher: Fetcher, trap: Site, host: str
) -> None:
    with pytest.raises(FetchRefused):
        fetcher.get(f"http://{host}:{trap.port}/")
    assert trap.accepted == 0  # not one connection reached it


def _resolver(table: dict[str, Sequence[str]], calls: list[str]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    return resolve


def test_names_are_resolved_once_and_connected_to_by_address(site: Site, trap: Site) -> None:
    calls: list[str] = []
    table = {
        "site.test": [SITE_ADDRESS],
        "evil.test": ["127.0.0.1"],
        "mixed.test": ["93.184.216.34", "127.0.0.1"],
        "metadata.test": ["169.254.169.254"],
        "empty.test": [],
    }
    with Fetcher(_limits(retries=0), resolver=_resolver(table, calls)) as fetcher:
        fetched = fetcher.get(f"http://site.test:{site.port}/page")
        assert (fetched.body, fetched.address) == (PAGE, SITE_ADDRESS)
        assert calls == ["site.test"]
        assert site.hits[-1][1]["host"] == f"site.test:{site.port}"
        for name in ("evil.test", "mixed.test", "metadata.test"):
            with pytest.raises(FetchRefused, match="forbidden address"):
                fetcher.get(f"http://{name}:{trap.port}/")
        with pytest.raises(Unreachable, match="no address"):
            fetcher.get(f"http://empty.test:{site.port}/")
        with pytest.raises(Unreachable, match="cannot resolve"):
            fetcher.get(f"http://unknown.test:{site.port}/")
    assert trap.accepted == 0  # not one connection reached it


def test_content_the_caller_did_not_ask_for_is_not_read(fetcher: Fetcher, site: Site) -> None:
    with pytest.raises(Unwanted, match="video"):
        fetcher.get(site.url("/video.mp4"))
    with pytest.raises(Unwanted, match="image"):
        fetcher.get(site.url("/image.png"), accept={Kind.PAGE})
    assert fetcher.get(site.url("/image.png"), accept={Kind.IMAGE}).body == PNG


def test_videos_are_downloaded_to_a_file(fetcher: Fetcher, site: Site, tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    fetched = fetcher.download(site.url("/video.mp4"), target, accept={Kind.VIDEO})
    assert fetched.body is None
    assert target.read_bytes()[4:8] == b"ftyp"
    assert fetched.size == target.stat().st_size


def test_a_failed_download_leaves_no_file(site: Site, tmp_path: Path) -> None:
    target = tmp_path / "bomb.html"
    with Fetcher(_limits()) as fetcher, pytest.raises(TooLarge):
        fetcher.download(site.url("/gzip-bomb"), target)
    assert not target.exists()


def test_cookies_are_never_kept(fetcher: Fetcher, site: Site) -> None:
    fetcher.get(site.url("/set-cookie"))
    echoed = fetcher.get(site.url("/echo")).body or b""
    assert b"session" not in echoed.lower()
    assert b"cookie" not in echoed.lower()


def test_nothing_is_allowed_by_default(site: Site) -> None:
    with Fetcher(FetchLimits(retries=0)) as fetcher, pytest.raises(FetchRefused, match="loopback"):
        fetcher.get(site.url("/page"))


def test_limits_come_from_settings() -> None:
    assert FetchLimits() == FetchLimits.from_settings(Settings())
    settings = Settings(fetch_allow_networks="127.0.0.2/32", fetch_max_page_bytes=1234)
    limits = FetchLimits.from_settings(settings)
    assert limits.allow == ALLOW
    assert limits.page_bytes == 1234
    with pytest.raises(ValueError, match="CIDR"):
        FetchLimits.from_settings(Settings(fetch_allow_networks="nonsense"))


def test_every_failure_is_a_fetch_failure() -> None:
    for error in (FetchRefused, TimedOut, TooLarge, Unreachable, Unwanted, DecodeFailed):
        assert issubclass(error, FetchFailed)


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("text/html; charset=euc-kr", Kind.PAGE),
        ("application/rss+xml", Kind.PAGE),
        ("image/webp", Kind.IMAGE),
        ("video/mp4", Kind.VIDEO),
        ("application/octet-stream", Kind.OTHER),
        ("", Kind.PAGE),
    ],
)
def test_kinds_of_content(content_type: str, kind: Kind) -> None:
    assert kind_of(content_type) is kind


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ssl.SSLContext]]:
    """An HTTPS server on 127.0.0.2 whose certificate names ``site.test`` only, and a
    client context that trusts it."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=site.test",
            "-addext", "subjectAltName=DNS:site.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            send(self, 200, PAGE, "text/html")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((SITE_ADDRESS, 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1]), ssl.create_default_context(cafile=str(cert))
    server.shutdown()


def test_https_connects_to_the_checked_address_and_verifies_the_host_name(
    tls_site: tuple[int, ssl.SSLContext],
) -> None:
    port, trust = tls_site
    table = {"site.test": [SITE_ADDRESS], "other.test": [SITE_ADDRESS]}
    resolver = _resolver(table, calls := [])
    with Fetcher(_limits(retries=0), resolver=resolver, verify=trust) as fetcher:
        fetched = fetcher.get(f"https://site.test:{port}/page")
        assert (fetched.body, fetched.address) == (PAGE, SITE_ADDRESS)
        assert calls == ["site.test"]
        with pytest.raises(Unreachable, match=r"(?i)certificate|hostname"):
            fetcher.get(f"https://other.test:{port}/page")  # same address, wrong name


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
def test_deflate_is_told_apart_however_the_body_is_chunked(wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    body = packer.compress(PAGE) + packer.flush()
    chunks = iter([body[:1], body[1:2], body[2:]])
    assert b"".join(decoded(chunks, "deflate", 1024 * 1024)) == PAGE
    with pytest.raises(DecodeFailed, match="too short"):
        list(decoded(iter([body[:1]]), "deflate", 1024))
