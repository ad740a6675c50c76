"""ONVIF WS-Discovery: a SOAP ``Probe`` for ``dn:NetworkVideoTransmitter`` on UDP 3702.
ONVIF is the standard every IP camera brand implements so that recorders can find it; an
answer with that type is a camera (or an encoder) saying so. Its scopes often carry the
model (``onvif://www.onvif.org/hardware/DS-2CD2042WD``) and a name."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

from reclaim.sweep.lan.errors import Malformed
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.safexml import each, local, parse
from reclaim.sweep.lan.text import clean

GROUP = "239.255.255.250"
PORT = 3702
_PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"
 xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<e:Header><w:MessageID>uuid:{id}</w:MessageID>
<w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>
<w:Action e:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action>
</e:Header><e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>
</e:Envelope>"""


def probe_message() -> bytes:
    return _PROBE.format(id=uuid.uuid4()).encode()


def recognises(data: bytes) -> bool:
    head = data[:400]
    return b"Envelope" in head and (b"<?xml" in head[:40] or head.lstrip()[:1] == b"<")


def parse_answer(data: bytes) -> list[Evidence]:
    """ProbeMatches: the types and scopes of each match."""
    root = parse(data, "WS-Discovery answer")
    if local(root.tag) != "Envelope":
        raise Malformed("a WS-Discovery answer that is not a SOAP envelope")
    if any(True for _ in each(root, "Probe")):
        return []  # another client's probe (or our own): not an answer
    evidence = []
    for match in each(root, "ProbeMatch"):
        types = " ".join((e.text or "") for e in each(match, "Types")).split()
        scopes = " ".join((e.text or "") for e in each(match, "Scopes")).split()
        facts = _scope_facts(scopes)
        if any(t.rsplit(":", 1)[-1] == "NetworkVideoTransmitter" for t in types):
            said = ", ".join(f"{k} {v!r}" for k, v in facts.items())
            text = "announces itself as an ONVIF NetworkVideoTransmitter (WS-Discovery"
            evidence.append(Evidence("onvif_nvt", text + (f"; {said})" if said else ")"), facts))
    if not evidence:
        raise Malformed("a WS-Discovery answer without a NetworkVideoTransmitter match")
    return evidence[:1]


def _scope_facts(scopes: list[str]) -> dict[str, str]:
    facts: dict[str, str] = {}
    for scope in scopes[:40]:
        prefix = "onvif://www.onvif.org/"
        if not scope.startswith(prefix):
            continue
        key, _, value = scope[len(prefix) :].partition("/")
        name = {"hardware": "model", "name": "name", "mfr": "manufacturer"}.get(key)
        if name and value and name not in facts:
            facts[name] = clean(unquote(value), 60)
    return facts
