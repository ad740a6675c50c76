"""Evidence packages: a capture as a WACZ file, sealed with the organisation's key, and
checked offline.

The package is a WACZ (Web Archive Collection Zipped, 1.1.1) that ReplayWeb.page opens:
``archive/data.warc.gz``, ``pages/pages.jsonl``, and beside them the capture's screenshot,
DOM and facts (``capture/``). ``datapackage.json`` lists every file with its SHA-256 and
size; ``datapackage-digest.json`` holds the SHA-256 of ``datapackage.json`` and the
**seal**: an Ed25519 signature over that digest by the organisation's key. One signature
therefore covers every byte of every file.

:func:`check_package` needs nothing but the file and a public key: it refuses archives
with unsafe names, more files or bytes than a package can hold, or suspicious compression
ratios (a zip bomb), and reads members in memory -- nothing is ever extracted to disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reclaim.evidence.capture import MAX_DOM, Capture
from reclaim.evidence.keys import BadSignature, Signer, verify_signature

WACZ_VERSION = "1.1.1"
SEAL_PREFIX = b"reclaim-evidence-seal-v1\n"
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 2 * 1024**3
MAX_TOTAL_BYTES = 8 * 1024**3
MAX_INDEX_BYTES = 64 * 1024 * 1024
MAX_RATIO = 500
RATIO_FLOOR = 256 * 1024 * 1024
"""A member larger than this may inflate at most ``MAX_RATIO`` times (a real page's DOM
can compress very well; a bomb both inflates hugely and compresses absurdly)."""
SIZE_LIMITS = {
    "datapackage.json": MAX_INDEX_BYTES,
    "datapackage-digest.json": 1024 * 1024,
    "pages/pages.jsonl": 16 * 1024 * 1024,
    "capture/capture.json": 16 * 1024 * 1024,
    "capture/dom.html": MAX_DOM,
}
"""What each file of a package may weigh at most (others: ``MAX_MEMBER_BYTES``)."""
DIGEST_FILE = "datapackage-digest.json"
PACKAGE_FILE = "datapackage.json"


class PackageInvalid(ValueError):
    """An evidence package that does not hold (the message names what failed)."""


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def seal_message(signed: dict[str, Any]) -> bytes:
    """The bytes a seal's signature covers: every field of ``signedData`` but the
    signature, as canonical JSON (the index's digest among them)."""
    fields = {k: v for k, v in signed.items() if k != "signature"}
    return SEAL_PREFIX + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed package and what identifies it."""

    data: bytes
    sha256: str
    """SHA-256 of the whole .wacz file (hex)."""
    datapackage_hash: str
    key_id: str
    signature: bytes


def package(capture: Capture, signer: Signer, *, case: str | None = None) -> Sealed:
    """The capture as a sealed WACZ."""
    stamp = capture.captured_at.isoformat()
    pages = "\n".join(
        json.dumps(line, ensure_ascii=False)
        for line in (
            {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"},
            {"id": "capture", "url": capture.final_url, "ts": stamp, "title": capture.title},
        )
    ).encode()
    facts = {**capture.facts(), "case": case}
    members = {
        "archive/data.warc.gz": capture.warc,
        "pages/pages.jsonl": pages + b"\n",
        "capture/screenshot.png": capture.screenshot,
        "capture/dom.html": capture.dom,
        "capture/capture.json": json.dumps(facts, indent=1, ensure_ascii=False).encode(),
    }
    datapackage = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": f"Evidence capture of {capture.url}",
        "created": stamp,
        "software": "Reclaim",
        "mainPageURL": capture.final_url,
        "mainPageDate": stamp,
        "resources": [
            {
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "hash": _sha256(data),
                "bytes": len(data),
            }
            for path, data in members.items()
        ],
    }
    datapackage_bytes = json.dumps(datapackage, indent=1, ensure_ascii=False).encode()
    digest = _sha256(datapackage_bytes)
    signed = {
        "hash": digest,
        "created": stamp,
        "software": "Reclaim",
        "algorithm": "ed25519",
        "keyId": signer.key_id,
        "publicKey": signer.public_key.hex(),
    }
    signature = signer.sign(seal_message(signed))
    digest_file = {
        "path": PACKAGE_FILE,
        "hash": digest,
        "signedData": {**signed, "signature": signature.hex()},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in [
            *members.items(),
            (PACKAGE_FILE, datapackage_bytes),
            (DIGEST_FILE, json.dumps(digest_file, indent=1).encode()),
        ]:
            info = zipfile.ZipInfo(path, date_time=_zip_time(capture.captured_at))
            compress = path.endswith((".json", ".jsonl", ".html"))
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data)
    data = out.getvalue()
    return Sealed(data, hashlib.sha256(data).hexdigest(), digest, signer.key_id, signature)


def _zip_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    return (max(1980, when.year), when.month, when.day, when.hour, when.minute, when.second)


@dataclass
class PackageReport:
    """What :func:`check_package` checked."""

    checked: list[str] = field(default_factory=list)
    key_id: str | None = None
    datapackage_hash: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def check_package(
    data: bytes, public_keys: dict[str, bytes], expected_sha256: str | None = None
) -> PackageReport:
    """Check a sealed WACZ against the public keys it may be signed with (key id ->
    raw key); :class:`PackageInvalid` names the first thing that does not hold.

    The seal covers every member's content. ``expected_sha256`` (the whole file's
    SHA-256, as an export's signed manifest records it) also covers the zip's own
    bytes -- timestamps and other metadata the seal does not."""
    report = PackageReport()
    if expected_sha256 is not None:
        if hashlib.sha256(data).hexdigest() != expected_sha256:
            raise PackageInvalid("the package file is not the one sealed (its SHA-256 differs)")
        report.checked.append("the package file: SHA-256 matches the manifest")
    members, small = _read_safely(data)
    for required in (PACKAGE_FILE, DIGEST_FILE):
        if required not in small:
            raise PackageInvalid(f"{required} is missing")
    try:
        datapackage = json.loads(small[PACKAGE_FILE])
        digest_file = json.loads(small[DIGEST_FILE])
        resources = {r["path"]: r for r in datapackage["resources"]}
        signed = digest_file["signedData"]
    except (ValueError, KeyError, TypeError) as error:
        raise PackageInvalid(f"the package's index is unreadable: {error}") from None
    listed = set(resources) | {PACKAGE_FILE, DIGEST_FILE}
    for extra in sorted(set(members) - listed):
        raise PackageInvalid(f"{extra} is in the package but not in its index")
    for path, resource in sorted(resources.items()):
        if path not in members:
            raise PackageInvalid(f"{path} is missing")
        size, digest_of = members[path]
        if resource.get("bytes") != size or resource.get("hash") != digest_of:
            raise PackageInvalid(f"{path} is not the file that was sealed (its digest differs)")
        report.checked.append(f"{path}: SHA-256 matches the index")
    digest = _sha256(small[PACKAGE_FILE])
    if (
        digest_file.get("path") != PACKAGE_FILE
        or digest_file.get("hash") != digest
        or signed.get("hash") != digest
    ):
        raise PackageInvalid(f"{PACKAGE_FILE} is not the index that was sealed")
    if set(digest_file) != {"path", "hash", "signedData"}:
        raise PackageInvalid(f"{DIGEST_FILE} holds more than the seal")
    report.checked.append(f"{PACKAGE_FILE}: SHA-256 matches {DIGEST_FILE}")
    key_id = str(signed.get("keyId", ""))
    key = public_keys.get(key_id)
    if key is None:
        raise PackageInvalid(f"the seal names key {key_id!r}, which is not a key given to check")
    if signed.get("publicKey") != key.hex() or signed.get("algorithm") != "ed25519":
        raise PackageInvalid("the seal's public key is not the organisation's key it names")
    try:
        signature = bytes.fromhex(str(signed.get("signature", "")))
        verify_signature(key, signature, seal_message(signed))
    except (BadSignature, ValueError):
        raise PackageInvalid(
            "the seal's signature does not verify with the organisation's key"
        ) from None
    report.checked.append(f"seal: Ed25519 signature by key {key_id} verifies")
    report.key_id = key_id
    report.datapackage_hash = digest
    try:
        report.facts = json.loads(small["capture/capture.json"])
    except (KeyError, ValueError):
        report.facts = {}
    return report


def _read_safely(data: bytes) -> tuple[dict[str, tuple[int, str]], dict[str, bytes]]:
    """Every member's size and SHA-256 (streamed, never held whole), and the bytes of the
    small index files, after checking names, count, sizes and compression ratios."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise PackageInvalid(f"not a zip archive: {error}") from None
    with archive:
        infos = archive.infolist()
        if not infos:
            raise PackageInvalid("the archive is empty")
        if len(infos) > MAX_MEMBERS:
            raise PackageInvalid(f"the archive holds {len(infos)} files, more than a package has")
        if sum(info.file_size for info in infos) > MAX_TOTAL_BYTES:
            raise PackageInvalid("the archive inflates beyond any package")
        members: dict[str, tuple[int, str]] = {}
        small: dict[str, bytes] = {}
        for info in infos:
            name = info.filename
            parts = name.split("/")
            if name.startswith(("/", "\\")) or ".." in parts or "\\" in name or ":" in name:
                raise PackageInvalid(f"unsafe file name in the archive: {name!r}")
            if name in members:
                raise PackageInvalid(f"{name} appears twice in the archive")
            if info.file_size > SIZE_LIMITS.get(name, MAX_MEMBER_BYTES):
                raise PackageInvalid(f"{name} is larger than a package's {name} may be")
            if (
                info.file_size > RATIO_FLOOR
                and info.file_size / max(1, info.compress_size) > MAX_RATIO
            ):
                raise PackageInvalid(f"{name} inflates suspiciously (a zip bomb?)")
            keep = name.endswith(".json") and info.file_size <= MAX_INDEX_BYTES
            digest, size, kept = hashlib.sha256(), 0, []
            try:
                with archive.open(info) as member:
                    while block := member.read(1 << 20):
                        size += len(block)
                        if size > info.file_size:
                            break
                        digest.update(block)
                        if keep:
                            kept.append(block)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as error:
                raise PackageInvalid(f"{name} cannot be read: {error}") from None
            if size != info.file_size:
                raise PackageInvalid(f"{name} is not the size the archive says")
            members[name] = (size, "sha256:" + digest.hexdigest())
            if keep:
                small[name] = b"".join(kept)
        return members, small
