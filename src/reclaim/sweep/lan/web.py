"""Web admin pages (HTTP 80, 8080, 8000; HTTPS 443, 8443): almost every camera and recorder
serves one, and its title, ``Server`` header, login realm and first bytes name the firmware
("Hikvision" ``App-webs``, Dahua's "WEB SERVICE", Xiongmai's "NETSurveillance WEB" and
``uc-httpd``, "IPCAM" pages...). One ``GET /`` per port (plus one same-host redirect), no
password tried, no form submitted. Printers' and routers' pages say what they are too.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from reclaim.sweep.lan.errors import Malformed, ProbeFailed
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.gate import Gate
from reclaim.sweep.lan.rtsp import USER_AGENT
from reclaim.sweep.lan.text import clean
from reclaim.sweep.lan.wire import Exchange, content_length

HTTP_PORTS = (80, 8080, 8000)
HTTPS_PORTS = (443, 8443)
BODY_LIMIT = 65536
_REQUEST_TARGET = re.compile(r"/[\x21-\x7e]*")
"""A path (and query) that can go into a request line as it is: printable ASCII, no space."""


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    headers: dict[str, str]
    body: bytes
    cut: bool = False

    @property
    def title(self) -> str:
        """The first ``<title>``'s text. Found with ``find``, not a pattern: on a page of
        thousands of unclosed ``<title>`` tags a backtracking pattern takes seconds, all of
        them holding the GIL, so no other thread (not even the deadline) would run."""
        body = self.body[:BODY_LIMIT]
        lower = body.lower()
        start = lower.find(b"<title")
        opened = lower.find(b">", start) + 1 if start >= 0 else 0
        end = lower.find(b"</title", opened) if opened else -1
        if end < 0:
            return ""
        return clean(html.unescape(body[opened:end].decode("utf-8", "replace")), 80)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    field: str
    """``server``, ``title``, ``realm`` or ``body``."""
    pattern: re.Pattern[str]
    code: str
    label: str


def _fp(field: str, pattern: str, code: str, label: str) -> Fingerprint:
    return Fingerprint(field, re.compile(pattern, re.IGNORECASE), code, label)


CAMERA = "http_camera_firmware"
FINGERPRINTS = (
    _fp("server", r"App-webs|DNVRS-Webs|Hikvision-Webs", CAMERA, "Hikvision camera web server"),
    _fp("body", r"doc/page/login\.asp", CAMERA, "Hikvision camera login page"),
    _fp("title", r"^\s*WEB SERVICE\s*$", CAMERA, "Dahua camera login page ('WEB SERVICE')"),
    _fp("body", r"/RPC2_Login|dhvideowhmode", CAMERA, "Dahua camera login page"),
    _fp("title", r"NETSurveillance", CAMERA, "Xiongmai camera/DVR page (NETSurveillance WEB)"),
    _fp("server", r"uc-httpd", CAMERA, "Xiongmai camera/DVR web server (uc-httpd)"),
    _fp("server", r"Hipcam|IPCamera-Web|Camera Web Server", CAMERA, "IP camera web server"),
    _fp(
        "title",
        r"\bIP ?CAM|\bNet ?Cam|Network Camera|IP ?Camera|Web ?Cam|Camera Web|IPC ?Web",
        CAMERA,
        "IP camera login page",
    ),
    _fp("title", r"\b[DN]VR\b|Video Recorder|\bXVR\b", CAMERA, "video recorder login page"),
    _fp("realm", r"IP ?CAM|camera|\b[DN]VR\b|Hikvision|Dahua", CAMERA, "camera password prompt"),
    _fp(
        "body",
        r"WebComponents|webVideoCtrl|NetVideoActiveX|IPCWebComponents|Reolink|amcrest",
        CAMERA,
        "camera web viewer",
    ),
    _fp(
        "server",
        r"GoAhead|Boa/|thttpd|mini_httpd|JAWS|\bWebs\b",
        "http_embedded_server",
        "small embedded web server common on cheap cameras (and other gadgets)",
    ),
    _fp(
        "title",
        r"LaserJet|OfficeJet|DeskJet|Brother|EPSON|Canon|Kyocera|Lexmark|Xerox|Ricoh|Printer|CUPS",
        "printer_service",
        "printer's web page",
    ),
    _fp(
        "server",
        r"CUPS|HP HTTP Server|Virata-EmWeb|EPSON_Linux",
        "printer_service",
        "printer's web server",
    ),
    _fp(
        "title",
        r"ipTIME|TP-?LINK|NETGEAR|ASUS Wireless|Archer|OpenWrt|LuCI|\bRouter\b",
        "router",
        "router's web page",
    ),
)


def fetch(gate: Gate, ip: ipaddress.IPv4Address, port: int, path: str, *, tls: bool) -> Page:
    """``GET path`` with HTTP/1.0 (no chunking, no keep-alive), bounded in time and size.
    ``path`` comes from the device (a redirect, a UPnP ``LOCATION``): one that does not fit
    in a request line as it is is not asked for."""
    if not _REQUEST_TARGET.fullmatch(path):
        raise Malformed(f"a path that is not a plain request target: {clean(path, 60)!r}")
    sock: socket.socket = gate.connect(ip, port)
    try:
        exchange = Exchange(sock, gate.deadline.timeout(gate.options.probe_timeout))
        if tls:
            sock = _wrap(sock, exchange)
            exchange.sock = sock
        host = f"{ip}" if port in (80, 443) else f"{ip}:{port}"
        exchange.send(
            f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: text/html,*/*\r\nConnection: close\r\n\r\n".encode()
        )
        head, rest = exchange.read_head()
        if not head.status_line.startswith("HTTP/"):
            raise Malformed(f"not an HTTP answer: {clean(head.status_line, 60)!r}")
        body, cut = exchange.read_body(rest, content_length(head), BODY_LIMIT)
        if "chunked" in head.headers.get("transfer-encoding", "").lower():
            body = _dechunk(body)
        return Page(head.status, head.headers, body, cut)
    finally:
        sock.close()


def _wrap(sock: socket.socket, exchange: Exchange) -> socket.socket:
    # Camera certificates are self-signed: nothing is verified, and nothing is trusted
    # from the page but its words.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock.settimeout(max(exchange.seconds, 0.1))
    try:
        return context.wrap_socket(sock)
    except (ssl.SSLError, OSError) as error:
        raise ProbeFailed(f"TLS handshake failed: {error}") from None


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    rest = body
    while rest and len(out) < BODY_LIMIT:
        size_line, sep, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            return body  # not really chunked: keep what came
        if not sep or size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def probe(gate: Gate, ip: ipaddress.IPv4Address, port: int, *, tls: bool) -> list[Evidence]:
    """``GET /`` (and one redirect on the same host), then what the page looks like."""
    page = fetch(gate, ip, port, "/", tls=tls)
    if page.status in (301, 302, 303, 307, 308):
        path = _same_host_path(page.headers.get("location", ""), ip)
        if path is not None:
            with contextlib.suppress(ProbeFailed):  # the first answer still says something
                page = fetch(gate, ip, port, path, tls=tls)
    return fingerprint(page, port, tls=tls)


def _same_host_path(location: str, ip: ipaddress.IPv4Address) -> str | None:
    """The path of a redirect that stays on this host and port, else None."""
    if not location or len(location) > 2048:
        return None
    if location.startswith("/") and not location.startswith("//"):
        return location
    parts = urlsplit(location)
    if parts.hostname == str(ip) and parts.scheme in ("http", "https"):
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return None


def fingerprint(page: Page, port: int, *, tls: bool = False) -> list[Evidence]:
    """Evidence from one page: each code once, in the order of :data:`FINGERPRINTS`."""
    fields = {
        "server": clean(page.headers.get("server", ""), 80),
        "title": page.title,
        "realm": clean(page.headers.get("www-authenticate", ""), 80),
        "body": page.body[:BODY_LIMIT].decode("utf-8", "replace"),
    }
    facts: dict[str, object] = {f"http_{k}": fields[k] for k in ("title", "server") if fields[k]}
    facts["http_port"] = port
    where = f"{'HTTPS' if tls else 'HTTP'} {port}"
    found: dict[str, Evidence] = {}
    for fp in FINGERPRINTS:
        value = fields[fp.field]
        if fp.code in found or not value or not fp.pattern.search(value):
            continue
        # Say what matched: the header or title itself; for the body, the page's title.
        shown = fields["title"] if fp.field == "body" else value
        said = f" ({fp.field if fp.field != 'body' else 'title'} {shown!r})" if shown else ""
        found[fp.code] = Evidence(fp.code, f"{fp.label} on {where}{said}", facts)
    if not found:
        shown = ", ".join(f"{k} {fields[k]!r}" for k in ("title", "server") if fields[k])
        said = f" ({shown})" if shown else ""
        return [Evidence("http_page", f"serves a web page on {where}{said}", facts)]
    return list(found.values())
