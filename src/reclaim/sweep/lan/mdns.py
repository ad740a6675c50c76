"""mDNS / DNS-SD (zeroconf): what devices advertise about themselves on the link.

Cameras that advertise are rare but speak plainly (``_rtsp._tcp``, ``_onvif._tcp``,
Axis's ``_axis-video._tcp``, a HomeKit accessory of category 17, IP camera). Most
advertisements come from ordinary things, and they are what lets a report say "this is a
printer" (``_ipp._tcp``), "a speaker" (``_googlecast._tcp``, ``_airplay._tcp``) or "a
phone" (``_companion-link._tcp``) instead of "unknown device".

Browsing covers a fixed list of types plus whatever the general enumeration
(``_services._dns-sd._udp.local.``) turns up, within bounds. Names come from the network:
they are cleaned, and an address an advertisement points to outside the target network
is never contacted (the gate refuses it; the report counts it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from reclaim.sweep.lan.errors import OutOfScope, OutOfTime
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.gate import Gate
from reclaim.sweep.lan.text import clean, was_dirty

_CAMERA = ("mdns_camera_service", "advertises a camera service over mDNS")
SERVICE_CLUES: dict[str, tuple[str, str]] = {
    "_rtsp._tcp": ("mdns_rtsp", "advertises an RTSP stream over mDNS"),
    "_onvif._tcp": _CAMERA,
    "_axis-video._tcp": _CAMERA,
    "_psia._tcp": _CAMERA,
    **dict.fromkeys(
        ("_ipp._tcp", "_ipps._tcp", "_printer._tcp", "_pdl-datastream._tcp", "_uscan._tcp"),
        ("printer_service", "advertises printing over mDNS: a printer"),
    ),
    **dict.fromkeys(
        (
            "_googlecast._tcp",
            "_airplay._tcp",
            "_raop._tcp",
            "_spotify-connect._tcp",
            "_sonos._tcp",
            "_amzn-wplay._tcp",
            "_androidtvremote2._tcp",
        ),
        ("media_service", "advertises media playback over mDNS: a speaker or TV"),
    ),
    **dict.fromkeys(
        ("_companion-link._tcp", "_apple-mobdev2._tcp", "_rdlink._tcp"),
        ("personal_device", "advertises Apple device services over mDNS: a phone or computer"),
    ),
}
ENUMERATION = "_services._dns-sd._udp.local."
BROWSED = (*(f"{t}.local." for t in SERVICE_CLUES), "_hap._tcp.local.", "_http._tcp.local.")
MAX_EXTRA_TYPES = 24
MAX_SERVICES = 128
_TXT_FACTS = {
    "md": "model",
    "model": "model",
    "ty": "model",
    "fn": "name",
    "usb_MFG": "manufacturer",
}
HOMEKIT_CAMERA = {"17": "IP camera", "18": "video doorbell"}


@dataclass
class Found:
    """What mDNS said, per address inside the network."""

    evidence: list[tuple[ipaddress.IPv4Address, Evidence]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    names_cleaned: int = 0


def discover(gate: Gate, seconds: float) -> Found:
    """Browse for ``seconds``, then resolve what was heard: first every service whose
    records already came with the advertisement (free), then the others, one request each,
    for at most another ``seconds`` (a device naming many services it never describes
    cannot hold the sweep)."""
    from zeroconf import ServiceBrowser

    found = Found()
    names: dict[str, str] = {}
    lock = threading.Lock()

    def on_change(zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        with lock:
            if len(names) < MAX_SERVICES + MAX_EXTRA_TYPES:
                names.setdefault(name, service_type)

    zc = gate.zeroconf()
    browsers = [ServiceBrowser(zc, [*BROWSED, ENUMERATION], handlers=[on_change])]
    try:
        _sleep(gate, seconds / 2)
        with lock:
            heard = sorted(n for n, t in names.items() if t == ENUMERATION)
        extra = _browsable([t for t in heard if t not in BROWSED], found)[:MAX_EXTRA_TYPES]
        if extra:
            browsers.append(ServiceBrowser(zc, extra, handlers=[on_change]))
        _sleep(gate, seconds / 2)
        with lock:
            services = [(n, t) for n, t in names.items() if t != ENUMERATION][:MAX_SERVICES]
        _resolve_all(gate, zc, services, found, time.monotonic() + seconds)
    finally:
        for browser in browsers:
            browser.cancel()
        zc.close()
    return found


def _sleep(gate: Gate, seconds: float) -> None:
    time.sleep(max(0.0, min(seconds, gate.deadline.remaining() - 0.5)))


def _plausible_type(name: str) -> bool:
    parts = name.split(".")
    return len(name) < 80 and len(parts) == 4 and parts[0].startswith("_") and parts[2] == "local"


def _browsable(types: list[str], found: Found) -> list[str]:
    """The service types zeroconf can browse; one it refuses would stop the whole browser."""
    # The check ServiceBrowser runs on each type (kept at the top level for compatibility).
    from zeroconf import service_type_name  # type: ignore[attr-defined]

    kept = []
    for service_type in types:
        try:
            if not _plausible_type(service_type):
                raise ValueError(service_type)
            service_type_name(service_type, strict=False)
        except Exception:  # zeroconf raises more than its BadTypeInNameException here
            found.notes.append(
                "mDNS: a service type that cannot be browsed was ignored "
                f"({clean(service_type, 60)!r})"
            )
            continue
        kept.append(service_type)
    return kept


def _resolve_all(
    gate: Gate, zc: Any, services: list[tuple[str, str]], found: Found, until: float
) -> None:
    from zeroconf import ServiceInfo

    unresolved = []
    for name, service_type in services:
        try:
            info = ServiceInfo(service_type, name)
        except Exception:  # zeroconf refuses names it cannot represent: a malformed name
            found.notes.append(
                f"mDNS: a service name that is not valid was ignored ({clean(name, 60)!r})"
            )
            continue
        if info.load_from_cache(zc):
            _record(gate, service_type, name, info, found)
        else:
            unresolved.append((name, service_type, info))
    for done, (name, service_type, info) in enumerate(unresolved):
        left = min(until - time.monotonic(), gate.deadline.remaining() - 0.5)
        try:
            if left <= 0:
                raise OutOfTime("mDNS resolution")
            gate.mdns_query()
        except OutOfTime:
            found.notes.append(
                "mDNS: time ran out before every service was resolved "
                f"({len(unresolved) - done} of {len(services)} not resolved)"
            )
            return
        info.request(zc, min(1000.0, left * 1000))
        _record(gate, service_type, name, info, found)


def _record(gate: Gate, service_type: str, name: str, info: Any, found: Found) -> None:
    from zeroconf import IPVersion

    instance = name[: -len(service_type) - 1] if name.endswith(service_type) else name
    if was_dirty(instance):
        found.names_cleaned += 1
    evidence = _evidence(service_type, clean(instance, 60), _txt_facts(info))
    for address in info.parsed_addresses(IPVersion.V4Only)[:4]:
        with contextlib.suppress(OutOfScope):  # counted by the gate; the report says so
            found.evidence.append((gate.check(address), evidence))


def _txt_facts(info: Any) -> dict[str, str]:
    facts: dict[str, str] = {}
    properties = info.decoded_properties or {}
    for key, fact in _TXT_FACTS.items():
        value = properties.get(key)
        if value and fact not in facts:
            facts[fact] = clean(value, 60)
    if properties.get("ci"):
        facts["homekit_category"] = clean(properties["ci"], 4)
    return facts


def _evidence(service_type: str, instance: str, txt: dict[str, str]) -> Evidence:
    short = service_type.removesuffix(".local.")
    facts: dict[str, Any] = {"mdns": [short]}
    if instance:
        facts["name"] = instance
    facts.update(txt)
    said = f"{short} {instance!r}" + (f", model {txt['model']!r}" if "model" in txt else "")
    category = txt.get("homekit_category", "")
    if short == "_hap._tcp" and category in HOMEKIT_CAMERA:
        what = HOMEKIT_CAMERA[category]
        return Evidence("homekit_camera", f"a HomeKit {what} (category {category}; {said})", facts)
    code, text = SERVICE_CLUES.get(short, ("mdns_service", "advertises a service over mDNS"))
    return Evidence(code, f"{text} ({said})", facts)
