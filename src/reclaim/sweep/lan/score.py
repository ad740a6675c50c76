"""From a device's evidence to a finding: a score in [0, 1], reasons in plain words, and a
label that says what the device looks like ("camera: Hikvision DS-2CD2042WD", "printer:
Brother HL-L2350DW", "speaker or TV: Kitchen").

Scoring: each clue code counts once (its weight from :data:`~.evidence.CLUES`); positive
weights add up, capped at 1; negative weights add up, floored at -0.3; the score is their
sum, clamped to [0, 1]. So one strong camera protocol makes a device "likely" on its own, a
camera maker's network card alone makes it "possible", a printer that happens to run a
small embedded web server stays "unlikely", and looking like a speaker cannot take a strong
camera clue below "possible" (a camera built into a smart display is still a camera).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from reclaim.sweep.lan.device import Device
from reclaim.sweep.lan.evidence import Evidence, Kind
from reclaim.sweep.report import POSSIBLE, Finding, Reason

NEGATIVE_FLOOR = -0.3
_NAME_FACTS = ("name", "uid", "http_title", "vendor")


def assess(device: Device, gateway: ipaddress.IPv4Address | None = None) -> Finding:
    evidence = list(device.evidence)
    if gateway is not None and device.ip == gateway:
        evidence.append(Evidence("router", "it is this network's gateway (the router)"))
    best = _once_per_code(evidence)
    positive = min(1.0, sum(e.clue.weight for e in best if e.clue.weight > 0))
    negative = max(NEGATIVE_FLOOR, sum(e.clue.weight for e in best if e.clue.weight < 0))
    score = round(min(1.0, max(0.0, positive + negative)), 4)
    facts = _facts(evidence)
    looks_like = _looks_like(best, score)
    reasons = tuple(
        Reason(e.code, e.text, e.clue.weight)
        for e in sorted(best, key=lambda e: (-e.clue.weight, e.code))
    )
    details: dict[str, Any] = {
        "ip": str(device.ip),
        "mac": device.mac,
        "looks_like": looks_like,
        "open_ports": sorted(device.open_ports),
        "found_by": sorted(device.found_by),
        **facts,
    }
    return Finding(
        ident=device.mac or str(device.ip),
        label=f"{looks_like}: {_name(facts, device)}",
        score=score,
        reasons=reasons,
        details=details,
    )


def _once_per_code(evidence: list[Evidence]) -> list[Evidence]:
    seen: dict[str, Evidence] = {}
    for item in evidence:
        seen.setdefault(item.code, item)
    return list(seen.values())


def _facts(evidence: list[Evidence]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for item in evidence:
        for key, value in item.facts.items():
            if isinstance(value, list):
                merged = facts.setdefault(key, [])
                merged.extend(v for v in value if v not in merged)
            else:
                facts.setdefault(key, value)
    return facts


def _looks_like(best: list[Evidence], score: float) -> str:
    if score >= POSSIBLE:
        return Kind.CAMERA.value
    against: dict[Kind, float] = {}
    for item in best:
        kind = item.clue.looks_like
        if kind is not None and kind is not Kind.CAMERA:
            against[kind] = against.get(kind, 0.0) - item.clue.weight
    if against:
        return max(against.items(), key=lambda kv: kv[1])[0].value
    if any(e.clue.weight > 0 for e in best):
        return "device with weak camera hints"
    return "unknown device"


def _name(facts: dict[str, Any], device: Device) -> str:
    maker_model = " ".join(str(facts[k]) for k in ("manufacturer", "model") if facts.get(k)).strip()
    if maker_model:
        return maker_model
    for key in _NAME_FACTS:
        if facts.get(key):
            return str(facts[key])
    return str(device.ip)
