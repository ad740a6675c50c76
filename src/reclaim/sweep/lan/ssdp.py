"""SSDP / UPnP: devices answer an ``M-SEARCH`` with a ``LOCATION`` URL of an XML
description naming their maker, model and device type. Cameras often say so there
(``modelName`` "DS-2CD2042WD", ``deviceType`` "...:NetworkCamera:1"); so do printers,
TVs and routers, which is just as useful for telling them apart.

The description is fetched only from the device that answered, only over plain HTTP, only
when its address is inside the target network (the gate checks), and parsed with defusedxml.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from reclaim.sweep.lan.errors import Malformed, OutOfScope
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.gate import Gate
from reclaim.sweep.lan.safexml import each, local, parse, text_of
from reclaim.sweep.lan.text import clean
from reclaim.sweep.lan.web import fetch
from reclaim.sweep.lan.wire import parse_head

GROUP = "239.255.255.250"
PORT = 1900
_CAMERA = re.compile(
    r"camera|NetworkVideo|SecurityCamera|\bIPC\b|IPCam|Surveillance|\b[DN]VR\b|Video Recorder"
    r"|Hikvision|Dahua|Uniview|Ezviz|Reolink|Amcrest|Foscam|Hipcam|Xiongmai|NETSurveillance",
    re.IGNORECASE,
)
_ORDINARY = (
    (re.compile(r"Printer|PrintBasic|PrintEnhanced", re.I), "printer_service", "a printer"),
    (re.compile(r"MediaRenderer|dial-multiscreen", re.I), "media_service", "a speaker or TV"),
    (re.compile(r"InternetGatewayDevice|WANDevice|WFADevice", re.I), "router", "a router"),
)


def search(host: str) -> bytes:
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {host}:{PORT}\r\n"
        'MAN: "ssdp:discover"\r\n'
        "MX: 1\r\n"
        "ST: ssdp:all\r\n"
        "USER-AGENT: Reclaim-sweep/1 UPnP/1.1\r\n\r\n"
    ).encode()


def recognises(data: bytes) -> bool:
    return data[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 ") or data[:7] == b"NOTIFY "


def parse_answer(data: bytes) -> list[Evidence]:
    """One SSDP answer: its SERVER header, and LOCATION kept for :func:`describe`."""
    if len(data) > 8192 or not recognises(data):
        raise Malformed("an SSDP answer that is not an HTTP-style message (ignored)")
    try:
        head = parse_head(data.split(b"\r\n\r\n", 1)[0])
    except Malformed as error:
        raise Malformed(f"an SSDP answer that does not parse ({error})") from None
    server = clean(head.headers.get("server", ""), 100)
    facts: dict[str, object] = {}
    if server:
        facts["upnp_server"] = server
    location = head.headers.get("location", "").strip()
    if location:
        facts["upnp_location"] = location[:300]
    if server and _CAMERA.search(server):
        return [Evidence("upnp_camera", f"announces itself over UPnP as {server!r}", facts)]
    return [
        Evidence(
            "upnp_device", "answers UPnP discovery" + (f" ({server})" if server else ""), facts
        )
    ]


def describe(gate: Gate, ip: ipaddress.IPv4Address, location: str) -> list[Evidence]:
    """Fetch and read the description at ``location`` (it must be on ``ip`` itself)."""
    parts = urlsplit(location)
    if parts.scheme != "http":
        raise Malformed(f"UPnP LOCATION {clean(location, 80)!r} is not plain HTTP: not fetched")
    try:
        host = ipaddress.ip_address(parts.hostname or "")
        port = parts.port or 80
    except ValueError:
        raise Malformed(
            f"UPnP LOCATION {clean(location, 80)!r} has no IP address and port"
        ) from None
    if host != ip:
        gate.check(host)  # counts an address outside the network as refused
        raise OutOfScope(f"UPnP LOCATION points to another host ({host}): not fetched")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    page = fetch(gate, ip, port, path, tls=False)
    if page.cut:
        raise Malformed(f"UPnP description at {clean(location, 80)!r} is too large: not read")
    return read_description(page.body)


def read_description(data: bytes) -> list[Evidence]:
    """What a UPnP device description says about its device."""
    root = parse(data, "UPnP description")
    device = next(each(root, "device"), None)
    if device is None or local(root.tag) != "root":
        raise Malformed("UPnP description without a root device")
    facts = {
        key: value
        for key, value in (
            ("manufacturer", text_of(device, "manufacturer")),
            (
                "model",
                " ".join(
                    filter(None, (text_of(device, "modelName"), text_of(device, "modelNumber")))
                ),
            ),
            ("name", text_of(device, "friendlyName")),
            ("upnp_type", text_of(device, "deviceType", 120)),
        )
        if value
    }
    described = ", ".join(f"{k.replace('upnp_', '')} {v!r}" for k, v in facts.items())
    words = " ".join([*facts.values(), text_of(device, "modelDescription", 120)])
    services = " ".join(e.text or "" for e in each(device, "serviceType"))
    if _CAMERA.search(words):
        return [
            Evidence(
                "upnp_camera",
                f"its UPnP description names a camera or recorder ({described})",
                facts,
            )
        ]
    for pattern, code, what in _ORDINARY:
        if pattern.search(facts.get("upnp_type", "") + " " + services):
            return [Evidence(code, f"its UPnP description says it is {what} ({described})", facts)]
    return [
        Evidence("upnp_device", f"describes itself over UPnP ({described or 'no names'})", facts)
    ]
