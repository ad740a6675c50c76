"""HTTPS captures with the real Chromium: the certificate the server presented is kept with
whether it deserved trust, and an untrusted one (unknown issuer, expired, another name)
is recorded as such without losing the capture."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from warcio.archiveiterator import ArchiveIterator

from reclaim.evidence.capture import Capturer
from reclaim.evidence.tls import CertificateUnavailable, check_certificate
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import AddressPolicy, parse_networks
from reclaim.monitor.render import GuardedBrowser

from ..monitor.conftest import SITE_ADDRESS, require_chromium, send

LIMITS = FetchLimits(allow=parse_networks(f"{SITE_ADDRESS}/32"), retries=0)
PAGE = ("<!doctype html><title>상점</title><p>Shop page</p><img src='/pic.png' width=20>").encode()
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000185d114090000000049454e44ae426082"
)


@dataclass
class Issued:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        cert, key = folder / f"{name}.crt", folder / f"{name}.key"
        cert.write_bytes(self.pem())
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert, key


def _issue(
    subject: str,
    *,
    names: Sequence[str] = (),
    issuer: Issued | None = None,
    days: tuple[int, int] = (-1, 30),
    ca: bool = False,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    signer = issuer.key if issuer else key
    return Issued(key, builder.sign(signer, hashes.SHA256()))


def _https_server(cert: Path, key: Path) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/pic.png":
                send(self, 200, PIXEL, "image/png")
            else:
                send(self, 200, PAGE, "text/html; charset=utf-8")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((SITE_ADDRESS, 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Servers:
    ca: Issued
    leaf: Issued
    stale: Issued
    trust: ssl.SSLContext
    """Trusts the test CA and the expired certificate (so that expiry is its only fault)."""
    port: int
    stale_port: int


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("tls")
    ca = _issue("Reclaim Test CA", ca=True, days=(-1, 365))
    leaf = _issue("shop.test", names=["shop.test"], issuer=ca)
    stale = _issue("stale.test", names=["stale.test"], days=(-30, -1))
    good = _https_server(*leaf.write(folder, "leaf"))
    old = _https_server(*stale.write(folder, "stale"))
    trust = ssl.create_default_context(cadata=(ca.pem() + stale.pem()).decode())
    yield Servers(ca, leaf, stale, trust, good.server_address[1], old.server_address[1])
    good.shutdown()
    old.shutdown()


def _resolve(host: str, port: int) -> Sequence[str]:
    if host in ("shop.test", "other.test", "stale.test"):
        return [SITE_ADDRESS]
    raise OSError(f"no such host {host}")


@pytest.fixture(scope="module")
def browser() -> Iterator[GuardedBrowser]:
    require_chromium()
    browser = GuardedBrowser(LIMITS, resolver=_resolve, timeout=15)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(LIMITS, resolver=_resolve) as fetcher:
        yield fetcher


def _fingerprint(issued: Issued) -> str:
    return issued.certificate.fingerprint(hashes.SHA256()).hex()


def test_an_https_capture_keeps_the_certificate_and_that_it_was_trusted(
    servers: Servers, browser: GuardedBrowser, fetcher: Fetcher
) -> None:
    capturer = Capturer(browser, fetcher, trust=servers.trust)
    url = f"https://shop.test:{servers.port}/page"
    capture = capturer.capture(url, [f"https://shop.test:{servers.port}/pic.png"])
    assert capture.status == 200
    assert "Shop page" in capture.dom.decode()
    assert capture.address == SITE_ADDRESS
    assert capture.tls is not None
    seen = capture.tls["browser"]
    assert seen["issuer"] == "Reclaim Test CA"
    assert seen["subjectName"] == "shop.test"
    assert seen["protocol"].startswith("TLS")
    check = capture.tls["check"]
    assert check["trusted"] is True
    assert check["problem"] is None
    assert (check["host"], check["address"], check["port"]) == (
        "shop.test",
        SITE_ADDRESS,
        servers.port,
    )
    certificate = check["certificate"]
    assert certificate["sha256"] == _fingerprint(servers.leaf)
    assert certificate["issuer"] == "CN=Reclaim Test CA"
    assert certificate["names"] == ["shop.test"]
    kept = x509.load_pem_x509_certificate(certificate["pem"].encode())
    assert kept == servers.leaf.certificate
    # Every exchange went over HTTPS and is in the WARC; the picture came from the page.
    import io

    uris = {
        record.rec_headers.get_header("WARC-Target-URI")
        for record in ArchiveIterator(io.BytesIO(capture.warc))
        if record.rec_type == "response"
    }
    assert uris == {url, f"https://shop.test:{servers.port}/pic.png"}
    assert capture.media[0]["from"] == "page"
    assert capture.facts()["tls"] == capture.tls


@pytest.mark.parametrize(
    ("host", "which", "trusted_store", "problem"),
    [
        ("shop.test", "port", False, "unable to get local issuer certificate"),
        ("other.test", "port", True, "Hostname mismatch"),
        ("stale.test", "stale_port", True, "certificate has expired"),
    ],
    ids=["unknown-issuer", "another-name", "expired"],
)
def test_an_untrusted_certificate_is_recorded_and_the_page_captured_anyway(
    servers: Servers,
    browser: GuardedBrowser,
    fetcher: Fetcher,
    host: str,
    which: str,
    trusted_store: bool,
    problem: str,
) -> None:
    trust = servers.trust if trusted_store else ssl.create_default_context(cafile=None)
    capturer = Capturer(browser, fetcher, trust=trust)
    port = getattr(servers, which)
    capture = capturer.capture(f"https://{host}:{port}/page")
    assert capture.status == 200
    assert "Shop page" in capture.dom.decode()
    assert capture.screenshot.startswith(b"\x89PNG")
    check = capture.tls["check"] if capture.tls else {}
    assert check["trusted"] is False
    assert problem in check["problem"]
    expected = servers.stale if which == "stale_port" else servers.leaf
    assert check["certificate"]["sha256"] == _fingerprint(expected)


def test_a_plain_http_capture_has_no_tls_facts(browser: GuardedBrowser, fetcher: Fetcher) -> None:
    from ..monitor.conftest import _serve

    site = _serve(SITE_ADDRESS, {"/": lambda handler: send(handler, 200, PAGE, "text/html")})
    try:
        capture = Capturer(browser, fetcher).capture(site.url("/"))
    finally:
        site.server.shutdown()
    assert capture.tls is None
    assert capture.facts()["tls"] is None


def test_the_certificate_check_keeps_to_the_guard_and_needs_tls(servers: Servers) -> None:
    allowed = AddressPolicy(LIMITS.allow)
    with pytest.raises(CertificateUnavailable, match="forbidden"):
        check_certificate("shop.test", "127.0.0.1", servers.port, policy=allowed)
    nothing = AddressPolicy(parse_networks(""))
    with pytest.raises(CertificateUnavailable, match="forbidden"):
        check_certificate("shop.test", SITE_ADDRESS, servers.port, policy=nothing)
    from ..monitor.conftest import _serve

    plain = _serve(SITE_ADDRESS, {})
    try:
        with pytest.raises(CertificateUnavailable, match="no TLS"):
            check_certificate("shop.test", SITE_ADDRESS, plain.port, policy=allowed, timeout=5)
    finally:
        plain.server.shutdown()
    with pytest.raises(CertificateUnavailable, match="cannot reach"):
        check_certificate("shop.test", SITE_ADDRESS, 1, policy=allowed, timeout=5)


def test_the_report_says_whether_the_certificate_was_trusted(
    servers: Servers, browser: GuardedBrowser, fetcher: Fetcher, tmp_path: Path
) -> None:
    import subprocess

    from reclaim.evidence.report import render_report

    capturer = Capturer(browser, fetcher, trust=servers.trust)
    facts = capturer.capture(f"https://stale.test:{servers.stale_port}/page").facts()
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render_report({"case": "R-1"}, [{"url": facts["url"], "facts": facts}], []))
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode()
    flat = " ".join(text.split())
    assert "신뢰되지 않음 / not trusted: certificate has expired" in flat
    assert _fingerprint(servers.stale)[:16] in flat.replace(" ", "")
