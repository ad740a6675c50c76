"""Capturing a page as evidence: what a real browser showed, and every exchange behind it.

The page is loaded by Chromium behind the guarding proxy (:class:`GuardedBrowser`), with
Playwright recording every request and response (a HAR with bodies). After the load, the
page is scrolled to its end and left to settle, then Reclaim keeps:

- a full-page screenshot (PNG) and the DOM after rendering;
- every request and response as WARC records (``request``/``response``, their headers,
  payload digests; the server's IP address as ``WARC-IP-Address``) -- bodies as the
  browser received them, so ``Content-Encoding`` is dropped from the stored headers;
- the media files a sighting matched, fetched again through the guarded fetcher when the
  page did not load them itself;
- the capture's facts: the URL asked for and the one reached, the redirects, the server
  address, for HTTPS the browser's view of TLS and the certificate the server presents
  with whether it is trusted (:mod:`reclaim.evidence.tls`; an untrusted one does not stop
  the capture), the time from the system clock, the browser's user
  agent and viewport.

A capture is bounded by a time limit and a byte limit per connection; a page that fails
(never loads, redirects to a forbidden address, a download instead of a page) raises
:class:`CaptureFailed` with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import ssl
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from reclaim.evidence.tls import CertificateUnavailable, check_certificate
from reclaim.monitor.errors import FetchFailed
from reclaim.monitor.fetch import Fetcher
from reclaim.monitor.guard import AddressPolicy
from reclaim.monitor.render import GuardedBrowser, failure_of, ms_left, settle

SOFTWARE = "Reclaim evidence capture"
MAX_DOM = 256 * 1024 * 1024
"""The largest DOM a capture keeps (a package refuses a larger one)."""
_INLINE_MEDIA = re.compile(rb"data:(?:image|video|audio)/[^\"')\s>]+", re.I)
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class CaptureFailed(FetchFailed):
    """A page that could not be captured (the message says why)."""


@dataclass
class Capture:
    """Everything one capture kept."""

    url: str
    final_url: str
    captured_at: datetime
    user_agent: str
    viewport: dict[str, int]
    title: str
    screenshot: bytes
    dom: bytes
    warc: bytes
    """The WARC, gzipped record by record."""
    status: int | None = None
    address: str | None = None
    redirects: list[dict[str, Any]] = field(default_factory=list)
    tls: dict[str, Any] | None = None
    exchanges: int = 0
    media: list[dict[str, Any]] = field(default_factory=list)
    """The matched media files: url, sha256, bytes, and how they were obtained."""
    redacted: bool = False
    """No picture or video was kept (a case concerning a minor)."""

    def facts(self) -> dict[str, Any]:
        """The capture's facts, as kept beside it (``capture.json``)."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "captured_at": self.captured_at.isoformat(),
            "clock": "system clock of the capturing machine, UTC",
            "status": self.status,
            "server_address": self.address,
            "redirects": self.redirects,
            "tls": self.tls,
            "user_agent": self.user_agent,
            "viewport": self.viewport,
            "title": self.title,
            "exchanges": self.exchanges,
            "media": self.media,
            "redacted": self.redacted,
            "software": SOFTWARE,
        }


class Capturer:
    """Captures pages with a guarded browser; media are fetched by the guarded fetcher."""

    def __init__(
        self, browser: GuardedBrowser, fetcher: Fetcher, *, trust: ssl.SSLContext | None = None
    ) -> None:
        """``trust`` is what HTTPS certificates are checked against (default: the system's
        certificate store)."""
        self._browser = browser
        self._fetcher = fetcher
        self._trust = trust
        self._policy = AddressPolicy(browser.limits.allow)

    def capture(self, url: str, media_urls: Sequence[str] = (), *, redact: bool = False) -> Capture:
        """Capture ``url`` (and the media files ``media_urls``). With ``redact`` (a case
        concerning a minor) no picture or video is kept: their bodies leave the WARC
        (their SHA-256 and size stay, in a header), the media files are not fetched, and
        the screenshot is blurred beyond recognition."""
        started = time.time()
        try:
            capture = self._browser.run(
                lambda: self._capture(url, started, redact), f"capturing {url}"
            )
        except CaptureFailed:
            raise
        except FetchFailed as error:  # the browser would not start, or was killed
            raise CaptureFailed(str(error)) from None
        self._check_certificate(capture)
        if redact:
            capture.screenshot = redacted_screenshot(capture.screenshot)
            capture.dom = _INLINE_MEDIA.sub(b"data:,redacted", capture.dom)
            capture.redacted = True
            capture.media = [{"url": u, "kept": False} for u in dict.fromkeys(media_urls)]
        else:
            self._add_media(capture, media_urls)
        return capture

    # -- on the browser's thread -----------------------------------------------------------

    def _capture(self, url: str, started: float, redact: bool) -> Capture:
        from playwright.sync_api import Error as PlaywrightError

        deadline = time.monotonic() + self._browser.timeout
        with tempfile.TemporaryDirectory() as scratch:
            har_path = Path(scratch) / "capture.har"
            context = self._browser.new_context(
                record_har_path=str(har_path),
                record_har_content="embed",
                record_har_mode="full",
                ignore_https_errors=True,  # kept anyway; the certificate check says why not
            )
            try:
                page = context.new_page()
                captured_at = datetime.now(UTC)
                try:
                    response = page.goto(url, wait_until="load", timeout=ms_left(deadline))
                    settle(page, deadline)
                    screenshot = page.screenshot(
                        full_page=True, type="png", timeout=max(1000, ms_left(deadline))
                    )
                    dom = page.content().encode("utf-8")
                    if len(dom) > MAX_DOM:
                        raise CaptureFailed(f"{url}: the page's DOM is over {MAX_DOM} bytes")
                    title = page.title()
                    final_url = page.url
                    tls = response.security_details() if response is not None else None
                    status = response.status if response is not None else None
                    redirects = _redirects(response)
                    viewport = dict(page.viewport_size or {})
                    agent = page.evaluate("navigator.userAgent")
                except PlaywrightError as error:
                    raise CaptureFailed(str(failure_of(url, "capturing", error))) from None
            finally:
                context.close()  # writes the HAR
            har = json.loads(har_path.read_text("utf-8")) if har_path.exists() else {}
        host = urlsplit(final_url).netloc.lower()
        for refused, reason in self._browser.proxy.refused_since(started):
            if refused.lower() == host:  # the page itself led somewhere forbidden
                raise CaptureFailed(f"{url}: leads to {final_url}, which was refused: {reason}")
        # The browser only ever talked to the proxy: the servers' addresses are the proxy's.
        addresses = self._browser.proxy.addresses_since(started)
        warc, exchanges = har_to_warc(har, captured_at, addresses, redact_media=redact)
        address = _address_of(final_url, addresses)
        return Capture(
            url=url,
            final_url=final_url,
            captured_at=captured_at,
            user_agent=agent,
            viewport=viewport,
            title=title,
            screenshot=screenshot,
            dom=dom,
            warc=warc,
            status=status,
            address=address,
            redirects=redirects,
            tls={"browser": dict(tls)} if tls else None,
            exchanges=exchanges,
        )

    def _check_certificate(self, capture: Capture) -> None:
        """For an HTTPS page, the certificate its server presents and whether it is
        trusted (:mod:`reclaim.evidence.tls`), kept with the browser's view of TLS."""
        parts = urlsplit(capture.final_url)
        if parts.scheme != "https" or not parts.hostname:
            return
        tls = capture.tls if capture.tls is not None else {}
        if capture.address is None:
            tls["check"] = {"problem": "no server address was recorded to check"}
        else:
            try:
                tls["check"] = check_certificate(
                    parts.hostname,
                    capture.address,
                    parts.port or 443,
                    policy=self._policy,
                    trust=self._trust,
                    timeout=self._browser.limits.connect_timeout,
                )
            except CertificateUnavailable as error:
                tls["check"] = {"problem": str(error)}
        capture.tls = tls

    def _add_media(self, capture: Capture, media_urls: Sequence[str]) -> None:
        """Record each matched medium: from the page's own exchanges when it loaded it,
        else fetched now through the guarded fetcher and appended to the WARC."""
        loaded = _payload_digests(capture.warc)
        extra = io.BytesIO()
        writer = WARCWriter(extra, gzip=True)
        with tempfile.TemporaryDirectory() as scratch:
            for number, media_url in enumerate(dict.fromkeys(media_urls)):
                if media_url in loaded:
                    sha256, size = loaded[media_url]
                    capture.media.append(
                        {"url": media_url, "sha256": sha256, "bytes": size, "from": "page"}
                    )
                    continue
                path = Path(scratch) / f"medium-{number}"
                try:
                    fetched = self._fetcher.download(media_url, path)
                except FetchFailed as error:
                    capture.media.append({"url": media_url, "error": str(error)})
                    continue
                body = path.read_bytes()
                headers = [
                    (name, value)
                    for name, value in fetched.headers.items()
                    if name not in _DROPPED_HEADERS
                ] + [("Content-Length", str(len(body)))]
                record = writer.create_warc_record(
                    media_url,
                    "response",
                    payload=io.BytesIO(body),
                    http_headers=StatusAndHeaders(
                        f"{fetched.status} {_reason(fetched.status)}", headers, protocol="HTTP/1.1"
                    ),
                    warc_headers_dict=_warc_headers(fetched.fetched_at, fetched.address),
                )
                writer.write_record(record)
                capture.media.append(
                    {
                        "url": media_url,
                        "sha256": hashlib.sha256(body).hexdigest(),
                        "bytes": len(body),
                        "from": "fetched after the page",
                    }
                )
        capture.warc += extra.getvalue()


def har_to_warc(
    har: dict[str, Any],
    when: datetime,
    addresses: dict[tuple[str, int], str] | None = None,
    *,
    redact_media: bool = False,
) -> tuple[bytes, int]:
    """A gzipped WARC of a HAR's exchanges (a warcinfo record first); and how many.
    ``addresses`` maps (host, port) to the server address each exchange went to; with
    ``redact_media`` the bodies of pictures and videos are left out (their SHA-256 and
    size kept in an ``X-Reclaim-Redacted`` header)."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    info = writer.create_warcinfo_record(
        "capture.warc.gz", {"software": SOFTWARE, "format": "WARC File Format 1.1"}
    )
    writer.write_record(info)
    count = 0
    for entry in har.get("log", {}).get("entries", []):
        request, response = entry.get("request", {}), entry.get("response", {})
        url = request.get("url", "")
        if not url.startswith(("http://", "https://")) or not response.get("status"):
            continue  # data: URLs, aborted requests
        started = _parse_time(entry.get("startedDateTime")) or when
        ip = _address_of(url, addresses or {})
        body = _har_body(response.get("content", {}))
        headers = [
            (h["name"], h["value"])
            for h in response.get("headers", [])
            if h.get("name", "").lower() not in _DROPPED_HEADERS
        ]
        mime = str(response.get("content", {}).get("mimeType", "")).lower()
        if redact_media and (_is_media(mime) or _is_media(_sniff(body))):
            digest = hashlib.sha256(body).hexdigest()
            headers.append(("X-Reclaim-Redacted", f"sha256={digest}; bytes={len(body)}"))
            body = b""
        headers.append(("Content-Length", str(len(body))))
        status = int(response["status"])
        record = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=StatusAndHeaders(
                f"{status} {response.get('statusText') or _reason(status)}",
                headers,
                protocol="HTTP/1.1",
            ),
            warc_headers_dict=_warc_headers(started, ip),
        )
        writer.write_record(record)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        posted = (request.get("postData") or {}).get("text", "").encode()
        request_headers = [
            (h["name"], h["value"])
            for h in request.get("headers", [])
            if not h.get("name", "").startswith(":")
        ]
        concurrent = {
            **_warc_headers(started, None),
            "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID"),
        }
        writer.write_record(
            writer.create_warc_record(
                url,
                "request",
                payload=io.BytesIO(posted),
                http_headers=StatusAndHeaders(
                    f"{request.get('method', 'GET')} {target} HTTP/1.1",
                    request_headers,
                    is_http_request=True,
                ),
                warc_headers_dict=concurrent,
            )
        )
        count += 1
    return out.getvalue(), count


def _address_of(url: str, addresses: dict[tuple[str, int], str]) -> str | None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return addresses.get(((parts.hostname or "").lower(), port))


def _is_media(mime: str) -> bool:
    return mime.startswith(("image/", "video/", "audio/")) or "mpegurl" in mime


def _sniff(body: bytes) -> str:
    """A media type from the first bytes, whatever the server claimed."""
    head = body[:16]
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")) or head[8:12] == b"WEBP":
        return "image/"
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/"
    return ""


def redacted_screenshot(png: bytes) -> bytes:
    """The screenshot blurred beyond recognition: shrunk to a few dozen pixels across,
    blurred, and scaled back -- the page's layout shows, nothing in it does."""
    from PIL import Image, ImageFilter

    with Image.open(io.BytesIO(png)) as image:
        image.load()
        width, height = image.size
        small = image.convert("RGB").resize((max(1, width // 40), max(1, height // 40)))
        blurred = small.filter(ImageFilter.GaussianBlur(2)).resize((width, height))
    out = io.BytesIO()
    blurred.save(out, "PNG")
    return out.getvalue()


def _har_body(content: dict[str, Any]) -> bytes:
    text = content.get("text")
    if not text:
        return b""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text)
        except ValueError:
            return b""
    return str(text).encode("utf-8")


def _payload_digests(warc: bytes) -> dict[str, tuple[str, int]]:
    """SHA-256 and size of each response body in a WARC, by URL."""
    from warcio.archiveiterator import ArchiveIterator

    out: dict[str, tuple[str, int]] = {}
    for record in ArchiveIterator(io.BytesIO(warc)):
        if record.rec_type == "response":
            body = record.content_stream().read()
            url = record.rec_headers.get_header("WARC-Target-URI")
            out.setdefault(url, (hashlib.sha256(body).hexdigest(), len(body)))
    return out


def _redirects(response: Any) -> list[dict[str, Any]]:
    """The redirect chain that led to ``response``, first hop first."""
    hops: list[dict[str, Any]] = []
    request = response.request.redirected_from if response is not None else None
    while request is not None:
        earlier = request.response()
        hops.append({"url": request.url, "status": earlier.status if earlier else None})
        request = request.redirected_from
    return list(reversed(hops))


def _warc_headers(when: datetime, ip: str | None) -> dict[str, str]:
    headers = {"WARC-Date": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if ip:
        headers["WARC-IP-Address"] = ip.strip("[]")
    return headers


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
