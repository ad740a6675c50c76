"""RTSP: the protocol almost every IP camera streams its picture with (ports 554, 8554).

Two questions, no password ever tried: ``OPTIONS`` (is this an RTSP server, and which one)
and ``DESCRIBE rtsp://ip:port/`` (which streams does it describe). An SDP answer with an
``m=video`` line is a camera or a recorder showing its stream to anyone who asks; a 401 is
an RTSP server that wants a password first (still a streaming device: medium evidence).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from reclaim.sweep.lan.errors import Malformed
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.gate import Gate
from reclaim.sweep.lan.text import clean
from reclaim.sweep.lan.wire import Exchange, Head, content_length

PORTS = (554, 8554)
SDP_LIMIT = 16384
USER_AGENT = "Reclaim-sweep/1 (hidden camera check)"
_RTPMAP = re.compile(r"^a=rtpmap:\s*(\d+)\s+([A-Za-z0-9._-]+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Sdp:
    video: tuple[str, ...] = ()
    """Codec of each video stream (``H264``, ``H265``, ``JPEG``...), or ``video``."""
    audio: int = 0
    name: str = ""


def parse_sdp(text: str) -> Sdp:
    """The media lines of a session description (RFC 8866), leniently."""
    codecs = {m.group(1): m.group(2).upper() for m in _RTPMAP.finditer(text)}
    video: list[str] = []
    audio = 0
    name = ""
    for line in text.splitlines()[:500]:
        line = line.strip()
        if line.startswith("s=") and not name:
            name = clean(line[2:], 60)
        if line.startswith("m=video"):
            formats = line.split()[3:] if len(line.split()) > 3 else []
            codec = next((codecs[f] for f in formats if f in codecs), "")
            if not codec and "26" in formats:
                codec = "JPEG"  # static payload type 26 is Motion JPEG
            video.append(clean(codec, 20) or "video")
        elif line.startswith("m=audio"):
            audio += 1
    return Sdp(tuple(video[:8]), audio, name)


def request(method: str, url: str, cseq: int) -> bytes:
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", f"User-Agent: {USER_AGENT}"]
    if method == "DESCRIBE":
        lines.append("Accept: application/sdp")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _check_rtsp(head: Head) -> None:
    if not head.status_line.startswith("RTSP/"):
        raise Malformed(f"not an RTSP answer: {clean(head.status_line, 60)!r}")


def probe(gate: Gate, ip: ipaddress.IPv4Address, port: int) -> list[Evidence]:
    """OPTIONS then DESCRIBE on one connection; evidence, or an exception for the notes."""
    url = f"rtsp://{ip}:{port}/"
    sock = gate.connect(ip, port)
    try:
        exchange = Exchange(sock, gate.deadline.timeout(gate.options.probe_timeout))
        exchange.send(request("OPTIONS", url, 1))
        options, rest = exchange.read_head()
        _check_rtsp(options)
        server = clean(options.headers.get("server", ""), 60)
        length = content_length(options)
        if length:
            exchange.read_body(rest, length, SDP_LIMIT)  # skip it: keep the stream in step
        exchange.send(request("DESCRIBE", url, 2))
        try:
            describe, rest = exchange.read_head()
            _check_rtsp(describe)
        except Malformed as error:
            return [_server_only(port, options, server, f"DESCRIBE: {error}")]
        return _describe_evidence(exchange, port, describe, rest, server)
    finally:
        sock.close()


def _describe_evidence(
    exchange: Exchange, port: int, describe: Head, rest: bytes, server: str
) -> list[Evidence]:
    facts: dict[str, object] = {"rtsp_port": port}
    if server:
        facts["rtsp_server"] = server
    status = describe.status
    if status == 200:
        body, _ = exchange.read_body(rest, content_length(describe), SDP_LIMIT)
        sdp = parse_sdp(body.decode("utf-8", "replace"))
        if sdp.video:
            codecs = " ".join(sorted(set(sdp.video)))
            facts["video"] = list(sdp.video)
            return [
                Evidence(
                    "rtsp_video",
                    f"answers RTSP on {port} with a video stream (DESCRIBE: m=video {codecs})"
                    + (f"; server {server!r}" if server else ""),
                    facts,
                )
            ]
    if status in (401, 403):
        realm = clean(describe.headers.get("www-authenticate", ""), 60)
        if realm:
            facts["rtsp_auth"] = realm
        return [
            Evidence(
                "rtsp_locked",
                f"answers RTSP on {port} and asks for a password to show its stream "
                f"(DESCRIBE: {status})" + (f"; server {server!r}" if server else ""),
                facts,
            )
        ]
    return [
        Evidence(
            "rtsp_server",
            f"answers RTSP on {port} (DESCRIBE of / gave {status}, no video described)"
            + (f"; server {server!r}" if server else ""),
            facts,
        )
    ]


def _server_only(port: int, options: Head, server: str, why: str) -> Evidence:
    facts: dict[str, object] = {"rtsp_port": port, "rtsp_note": clean(why, 100)}
    if server:
        facts["rtsp_server"] = server
    return Evidence(
        "rtsp_server",
        f"answers RTSP on {port} ({clean(options.status_line, 40)})"
        + (f"; server {server!r}" if server else ""),
        facts,
    )
