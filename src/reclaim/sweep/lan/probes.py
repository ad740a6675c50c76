"""Every per-device probe, registered in one place (add a protocol by joining a list).

- :data:`UDP_PROBES`: one datagram each, sent to every device found, plus once to the
  protocol's multicast group when the sweep covers the whole link. Answers are told apart
  by their content (a device may answer from another port than it was asked on).
- :data:`TCP_PROBES`: run on each open port of theirs.
- :data:`PORT_HINTS`: ports whose being open says something by itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from reclaim.sweep.lan import rtsp, ssdp, vendor, web, wsd
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.gate import Gate


@dataclass(frozen=True, slots=True)
class UdpProbe:
    name: str
    ports: tuple[int, ...]
    message: Callable[[str], bytes]
    """The datagram, given the destination (SSDP names it in a header)."""
    recognises: Callable[[bytes], bool]
    parse: Callable[[bytes], list[Evidence]]
    """Evidence from one answer; ``[]`` for a message that is not an answer (someone's
    query); :class:`~.errors.Malformed` for garbage."""
    group: str | None = None
    answers_to_group: bool = False


@dataclass(frozen=True, slots=True)
class TcpProbe:
    name: str
    ports: tuple[int, ...]
    run: Callable[[Gate, ipaddress.IPv4Address, int], list[Evidence]]


UDP_PROBES: tuple[UdpProbe, ...] = (
    UdpProbe(
        "ws-discovery",
        (wsd.PORT,),
        lambda _: wsd.probe_message(),
        wsd.recognises,
        wsd.parse_answer,
        group=wsd.GROUP,
    ),
    UdpProbe(
        "sadp",
        (vendor.SADP_PORT,),
        lambda _: vendor.sadp_probe(),
        vendor.sadp_recognises,
        vendor.sadp_parse,
        group=vendor.SADP_GROUP,
        answers_to_group=True,
    ),
    UdpProbe(
        "ssdp", (ssdp.PORT,), ssdp.search, ssdp.recognises, ssdp.parse_answer, group=ssdp.GROUP
    ),
    UdpProbe(
        "dahua",
        (vendor.DHIP_PORT,),
        lambda _: vendor.dhip_probe(),
        vendor.dhip_recognises,
        vendor.dhip_parse,
    ),
    UdpProbe(
        "pppp",
        vendor.PPPP_PORTS,
        lambda _: vendor.PPPP_LAN_SEARCH,
        vendor.pppp_recognises,
        vendor.pppp_parse,
    ),
)

TCP_PROBES: tuple[TcpProbe, ...] = (
    TcpProbe("rtsp", rtsp.PORTS, rtsp.probe),
    TcpProbe("http", web.HTTP_PORTS, partial(web.probe, tls=False)),
    TcpProbe("https", web.HTTPS_PORTS, partial(web.probe, tls=True)),
)

PORT_HINTS: dict[int, tuple[str, str]] = {
    631: ("printer_service", "IPP"),
    9100: ("printer_service", "JetDirect"),
    515: ("printer_service", "LPD"),
    8008: ("media_service", "Google Cast"),
    8009: ("media_service", "Google Cast"),
    62078: ("personal_device", "Apple device sync"),
    34567: ("port_dvrip", "Xiongmai DVR-IP"),
    37777: ("port_dahua", "Dahua"),
}
_HINT_TEXT = {
    "printer_service": "accepts print jobs",
    "media_service": "has the ports of a speaker, TV or streaming stick",
    "personal_device": "has the sync port of an iPhone or iPad",
    "port_dvrip": "has the control port of Xiongmai cameras and DVRs open",
    "port_dahua": "has the control port of Dahua cameras and recorders open",
}
SCAN_PORTS: tuple[int, ...] = tuple(
    sorted({p for probe in TCP_PROBES for p in probe.ports} | set(PORT_HINTS))
)


def udp_messages(ip: ipaddress.IPv4Address) -> list[tuple[int, bytes]]:
    return [(port, probe.message(str(ip))) for probe in UDP_PROBES for port in probe.ports]


def probe_for(data: bytes) -> UdpProbe | None:
    return next((p for p in UDP_PROBES if p.recognises(data)), None)


def port_evidence(ports: Iterable[int]) -> list[Evidence]:
    """One clue per kind of telling port, naming the ports."""
    grouped: dict[str, list[str]] = {}
    for port in sorted(ports):
        if port in PORT_HINTS:
            code, name = PORT_HINTS[port]
            grouped.setdefault(code, []).append(f"{port} {name}")
    return [
        Evidence(code, f"{_HINT_TEXT[code]} (open: {', '.join(names)})", {})
        for code, names in grouped.items()
    ]
