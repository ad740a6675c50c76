"""Vendor discovery protocols that only cameras and recorders answer:

- **Hikvision SADP** (UDP 37020): an XML ``<Probe>`` with ``<Types>inquiry</Types>``;
  Hikvision and Ezviz cameras, recorders and OEM relabels answer a ``<ProbeMatch>`` with
  the model (``DS-2CD...``), serial number and firmware.
- **Dahua DHIP** (UDP 37810): a 32-byte ``DHIP`` header and ``DHDiscover.search`` in JSON;
  Dahua and OEM cameras (Amcrest, Lorex...) and recorders answer ``deviceInfo``.
- **PPPP / CS2 P2P** (UDP 32108, also 32100): the 4-byte ``MSG_LAN_SEARCH``
  (``f1 30 00 00``) of the P2P library inside millions of cheap Wi-Fi cameras; a
  ``MSG_PUNCH_PKT`` answer (``f1 41``) carries the camera's UID, e.g. ``VSTC-123456-ABCDE``.
  Some brands XOR-scramble their packets with a key of their own: those stay silent here.

Only the read-only "who is there" message of each protocol is ever sent.
"""

from __future__ import annotations

import json
import re
import struct
import uuid

from reclaim.sweep.lan.errors import Malformed
from reclaim.sweep.lan.evidence import Evidence
from reclaim.sweep.lan.safexml import local, parse, text_of
from reclaim.sweep.lan.text import clean

SADP_GROUP = "239.255.255.250"
SADP_PORT = 37020
DHIP_PORT = 37810
PPPP_PORTS = (32108, 32100)
_UID_PART = re.compile(rb"[A-Z]{1,8}")


def sadp_probe() -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><Probe>'
        f"<Uuid>{str(uuid.uuid4()).upper()}</Uuid><Types>inquiry</Types></Probe>"
    ).encode()


def sadp_recognises(data: bytes) -> bool:
    head = data[:200]
    return b"<ProbeMatch" in head or (b"<Probe>" in head and b"Envelope" not in head)


def sadp_parse(data: bytes) -> list[Evidence]:
    root = parse(data, "SADP answer")
    if local(root.tag) == "Probe":
        return []  # another SADP client's probe
    if local(root.tag) != "ProbeMatch":
        raise Malformed("an SADP answer that is not a ProbeMatch")
    facts = {
        k: v
        for k, v in (
            ("model", text_of(root, "DeviceDescription") or text_of(root, "DeviceType")),
            ("serial", text_of(root, "DeviceSN")),
            ("firmware", text_of(root, "SoftwareVersion")),
        )
        if v
    }
    facts["manufacturer"] = "Hikvision (SADP)"
    said = f" (model {facts['model']!r})" if "model" in facts else ""
    return [Evidence("sadp_answer", f"answers Hikvision's SADP camera discovery{said}", facts)]


def dhip_probe() -> bytes:
    body = json.dumps({"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}).encode()
    size = struct.pack("<I", len(body))
    return b"\x20\x00\x00\x00DHIP" + b"\x00" * 8 + size + b"\x00" * 4 + size + b"\x00" * 4 + body


def dhip_recognises(data: bytes) -> bool:
    return data[4:8] == b"DHIP"


def dhip_parse(data: bytes) -> list[Evidence]:
    if len(data) < 33 or data[4:8] != b"DHIP":
        raise Malformed("a Dahua discovery answer without its DHIP header")
    try:
        message = json.loads(data[32 : 32 + 16384].decode("utf-8", "replace"))
    except ValueError:
        raise Malformed("a Dahua discovery answer whose JSON does not parse") from None
    except RecursionError:
        raise Malformed("a Dahua discovery answer nested too deeply: not read") from None
    if not isinstance(message, dict):
        raise Malformed("a Dahua discovery answer that is not a JSON object")
    if message.get("method") == "DHDiscover.search":
        return []  # a probe, not an answer
    params = message.get("params")
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        raise Malformed("a Dahua discovery answer without deviceInfo")
    facts = {
        k: clean(info[f], 60)
        for k, f in (("model", "DeviceType"), ("manufacturer", "Vendor"), ("serial", "SerialNo"))
        if isinstance(info.get(f), str | int) and str(info[f]).strip()
    }
    if "manufacturer" not in facts and isinstance(info.get("Manufacturer"), str):
        facts["manufacturer"] = clean(info["Manufacturer"], 60)
    said = f" (model {facts['model']!r})" if "model" in facts else ""
    return [Evidence("dahua_discovery", f"answers Dahua's camera discovery{said}", facts)]


PPPP_LAN_SEARCH = b"\xf1\x30\x00\x00"


def pppp_recognises(data: bytes) -> bool:
    return data[:1] == b"\xf1"


def pppp_parse(data: bytes) -> list[Evidence]:
    if len(data) < 4 or data[0] != 0xF1:
        raise Malformed("a PPPP answer without its 0xf1 magic")
    if data[1] == 0x30:
        return []  # another controller's LAN search
    if data[1] not in (0x41, 0x42) or len(data) < 24:
        return [
            Evidence("pppp_uid", f"answers the PPPP P2P camera search (message 0x{data[1]:02x})")
        ]
    prefix = data[4:12].rstrip(b"\x00")
    serial = struct.unpack(">I", data[12:16])[0]
    check = data[16:24].rstrip(b"\x00")
    if not (_UID_PART.fullmatch(prefix) and _UID_PART.fullmatch(check)):
        raise Malformed("a PPPP answer whose UID is not letters-number-letters")
    uid = f"{prefix.decode()}-{serial:06d}-{check.decode()}"
    return [
        Evidence(
            "pppp_uid",
            f"speaks the PPPP/CS2 P2P protocol of cheap Wi-Fi cameras (camera UID {uid})",
            {"uid": uid},
        )
    ]
