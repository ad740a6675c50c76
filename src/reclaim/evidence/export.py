"""Exporting a case's evidence for the police or a lawyer, and checking an export offline.

An export is a folder:

- ``packages/<id>.wacz`` -- each sealed capture, as it was sealed;
- ``manifest.json`` -- the case, who exported it and on what basis, and for each package:
  its SHA-256, the seal, the custody-log entry that recorded the seal and that entry's
  inclusion proof; the signed tree head the proofs lead to; the organisation's public keys;
- ``manifest.sig`` -- the Ed25519 signature of ``manifest.json`` by the organisation's key;
- ``VERIFY.txt`` -- how to check it all;
- ``report.pdf`` -- the report in Korean and English (:mod:`reclaim.evidence.report`).

:func:`verify_export` needs nothing but the folder: it checks the manifest's signature,
that the folder holds exactly the files the manifest names, every package's digest and
seal, every log entry's inclusion proof against the tree head, and the tree head's
signature -- and says what it checked. An export is only made with the survivor's
recorded consent to police evidence, or a legal basis a person records for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.cases.events import EvidenceExported
from reclaim.cases.models import Case, ConsentPurpose, Organisation
from reclaim.cases.service import consent_given, record_event
from reclaim.evidence import custody
from reclaim.evidence.capture import redacted_screenshot
from reclaim.evidence.keys import BadSignature, org_keys, signer, verify_signature
from reclaim.evidence.merkle import ProofError, leaf_hash, verify_inclusion
from reclaim.evidence.models import CustodyEntry, Evidence
from reclaim.evidence.report import render_report
from reclaim.evidence.wacz import PackageInvalid, check_package
from reclaim.monitor.models import Sighting
from reclaim.store.base import utcnow
from reclaim.store.blobs import Blob, BlobStore
from reclaim.store.envelope import MasterKey

FORMAT = "reclaim-evidence-export-1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
README = "VERIFY.txt"
REPORT = "report.pdf"
MANIFEST_PREFIX = b"reclaim-evidence-manifest-v1\n"
MAX_MANIFEST = 64 * 1024 * 1024
MAX_PACKAGE = 4 * 1024**3


class ExportRefused(PermissionError):
    """No consent to police evidence and no recorded legal basis."""


class ExportInvalid(ValueError):
    """An export that does not hold (the message names what failed)."""


VERIFY_TEXT = """How to check this evidence export
=================================

Everything needed is in this folder; nothing is fetched from anywhere.

  reclaim evidence verify THIS_FOLDER

checks: the signature of manifest.json (manifest.sig) by the organisation's key; that
the folder holds exactly the files the manifest lists; the SHA-256 of every package; each
package's own seal (datapackage.json lists every file's SHA-256, and the seal signs it);
that the custody-log entry recording each seal is in the log, by its inclusion proof
(RFC 6962 hashing) up to the signed tree head; and the tree head's signature.

Without Reclaim: the packages are WACZ files (open them in ReplayWeb.page); the proofs
follow RFC 9162 section 2.1.3.2, leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 ||
left || right); signatures are Ed25519 over the bytes named in manifest.json ("signed").
Compare the key fingerprint below with the one the organisation publishes.
"""


def export_case(
    session: Session,
    *,
    org: Organisation,
    case: Case,
    blobs: BlobStore,
    master: MasterKey,
    out: Path,
    actor: str,
    legal_basis: str | None = None,
    reveal_screenshots: bool = False,
) -> dict[str, Any]:
    """Write the case's sealed evidence to the new folder ``out``; returns the manifest.
    The report's screenshots are blurred unless ``reveal_screenshots`` (never for a case
    concerning a minor)."""
    consent = consent_given(session, case=case, purpose=ConsentPurpose.POLICE_EVIDENCE)
    if consent is None and not (legal_basis and legal_basis.strip()):
        raise ExportRefused(
            f"case {case.number}: the survivor has not agreed to evidence for the police; "
            "record her consent, or the legal basis for this export (--legal-basis)"
        )
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: choose a new folder")
    items = list(
        session.scalars(
            select(Evidence)
            .where(Evidence.case_id == case.id, Evidence.status == "sealed")
            .order_by(Evidence.id)
        )
    )
    if not items:
        raise LookupError(f"case {case.number} has no sealed evidence")
    basis = (
        {"consent": "recorded", "recorded": consent.recorded.isoformat(), "by": consent.recorded_by}
        if consent is not None
        else {"legal_basis": (legal_basis or "").strip(), "by": actor}
    )
    custody.append(
        session,
        org=org,
        event="exported",
        actor=actor,
        details={"case": case.number, "evidence": [e.id for e in items], **basis},
    )
    record_event(
        session,
        case=case,
        event=EvidenceExported(
            actor=actor,
            packages=len(items),
            basis="her consent" if consent is not None else "a legal basis recorded by staff",
        ),
    )
    head = custody.sign_head(session, org=org, master=master)
    log = custody.tree(session, org=org)
    (out / "packages").mkdir(parents=True, exist_ok=True)
    packages = []
    shown: list[dict[str, Any]] = []
    for item in items:
        blob = session.get(Blob, item.blob_id)
        if blob is None or item.log_position is None:
            raise LookupError(f"evidence {item.id} lost its package or its log entry")
        data = blobs.read(session, blob)
        name = f"packages/{item.id}.wacz"
        (out / name).write_bytes(data)
        entry = session.scalars(
            select(CustodyEntry).where(
                CustodyEntry.org_id == org.id, CustodyEntry.position == item.log_position
            )
        ).one()
        sighting = session.get(Sighting, item.sighting_id) if item.sighting_id else None
        found = (
            {
                "media_url": sighting.media_url,
                "media_sha256": sighting.media_sha256,
                "match": sighting.match,
            }
            if sighting is not None
            else None
        )
        packages.append(
            {
                "evidence": item.id,
                "sighting": found,
                "file": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "url": item.url,
                "final_url": item.final_url,
                "captured": item.captured.isoformat(),
                "datapackage": item.datapackage_hash,
                "key_id": item.key_id,
                "log_entry": {
                    "position": item.log_position,
                    "body": entry.body,
                    "inclusion_proof": [
                        node.hex() for node in log.inclusion_proof(item.log_position, head.size)
                    ],
                },
            }
        )
        facts, screenshot = facts_and_screenshot(data)
        if not (reveal_screenshots and not case.minor) and screenshot:
            screenshot = redacted_screenshot(screenshot)
        shown.append({**packages[-1], "facts": facts, "screenshot": screenshot})
    keys = {key.key_id: key.public_key.hex() for key in org_keys(session, org=org)}
    active = signer(session, org=org, master=master)
    readme = (VERIFY_TEXT + f"\nKey {active.key_id}: {active.public_key.hex()}\n").encode()
    (out / README).write_bytes(readme)
    manifest = {
        "format": FORMAT,
        "organisation": org.slug,
        "case": case.number,
        "exported": utcnow().isoformat(),
        "exported_by": actor,
        "basis": basis,
        "packages": packages,
        "tree_head": {
            "log": org.slug,
            "size": head.size,
            "root": head.root.hex(),
            "timestamp": head.timestamp.isoformat(),
            "key_id": head.key_id,
            "signature": head.signature.hex(),
            "signed": "reclaim-tree-head-v1 + canonical JSON of log, size, root, timestamp",
        },
        "public_keys": keys,
        "manifest_key_id": active.key_id,
        "readme_sha256": hashlib.sha256(readme).hexdigest(),
    }
    report = render_report(manifest, shown, _case_events(session, org=org, case=case))
    (out / REPORT).write_bytes(report)
    manifest["report_sha256"] = hashlib.sha256(report).hexdigest()
    manifest_bytes = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    (out / MANIFEST).write_bytes(manifest_bytes)
    (out / SIGNATURE).write_text(
        json.dumps(
            {
                "key_id": active.key_id,
                "signature": active.sign(MANIFEST_PREFIX + manifest_bytes).hex(),
            }
        )
    )
    return manifest


def facts_and_screenshot(package: bytes) -> tuple[dict[str, Any], bytes | None]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        facts = json.loads(archive.read("capture/capture.json"))
        screenshot = archive.read("capture/screenshot.png")
    return facts, screenshot


def _case_events(session: Session, *, org: Organisation, case: Case) -> list[dict[str, Any]]:
    """The custody-log entries that concern ``case``, in order."""
    events = []
    for body in session.scalars(
        select(CustodyEntry.body)
        .where(CustodyEntry.org_id == org.id)
        .order_by(CustodyEntry.position)
    ):
        entry = json.loads(body)
        if entry.get("case") == case.number:
            events.append(entry)
    return events


@dataclass
class ExportReport:
    checked: list[str] = field(default_factory=list)


def verify_export(folder: Path, *, trusted_keys: dict[str, bytes] | None = None) -> ExportReport:
    """Check an export folder offline; :class:`ExportInvalid` names the first failure.
    ``trusted_keys`` pins the organisation's keys (else the manifest's are used, and the
    report says so)."""
    report = ExportReport()
    manifest_path, signature_path = folder / MANIFEST, folder / SIGNATURE
    for required in (manifest_path, signature_path):
        if not required.is_file() or required.is_symlink():
            raise ExportInvalid(f"{required.name} is missing")
    if manifest_path.stat().st_size > MAX_MANIFEST:
        raise ExportInvalid(f"{MANIFEST} is larger than any manifest")
    manifest_bytes = manifest_path.read_bytes()
    try:
        manifest = json.loads(manifest_bytes)
        sealed = json.loads(signature_path.read_text())
        keys = {k: bytes.fromhex(v) for k, v in manifest["public_keys"].items()}
        packages = manifest["packages"]
        head = manifest["tree_head"]
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ExportInvalid(f"{MANIFEST} or {SIGNATURE} is unreadable: {error}") from None
    if trusted_keys is not None:
        for key_id, key in keys.items():
            if trusted_keys.get(key_id) != key:
                raise ExportInvalid(f"public key {key_id} in the manifest is not a trusted key")
        report.checked.append("the manifest's public keys are the trusted ones")
    else:
        report.checked.append(
            "public keys taken from the manifest: compare their fingerprints with the "
            "organisation's: " + ", ".join(f"{k} {v.hex()}" for k, v in keys.items())
        )
    key_id = str(sealed.get("key_id", ""))
    if key_id not in keys or key_id != manifest.get("manifest_key_id"):
        raise ExportInvalid(
            f"{MANIFEST} does not hold the key {SIGNATURE} names (one of them was altered)"
        )
    try:
        verify_signature(
            keys[key_id], bytes.fromhex(str(sealed["signature"])), MANIFEST_PREFIX + manifest_bytes
        )
    except (BadSignature, ValueError, KeyError):
        raise ExportInvalid(f"{MANIFEST}: the signature does not verify") from None
    report.checked.append(f"{MANIFEST}: Ed25519 signature by key {key_id} verifies")
    expected = {MANIFEST, SIGNATURE, README, REPORT} | {str(p["file"]) for p in packages}
    present = {str(path.relative_to(folder)) for path in folder.rglob("*") if not path.is_dir()}
    for extra in sorted(present - expected):
        raise ExportInvalid(f"{extra} is in the folder but not in the manifest")
    for missing in sorted(expected - present):
        raise ExportInvalid(f"{missing} is missing")
    for name, field_name in ((README, "readme_sha256"), (REPORT, "report_sha256")):
        path = folder / name
        if path.is_symlink() or path.stat().st_size > MAX_MANIFEST:
            raise ExportInvalid(f"{name} is not the one exported")
        if hashlib.sha256(path.read_bytes()).hexdigest() != manifest.get(field_name):
            raise ExportInvalid(f"{name} is not the one exported (its SHA-256 differs)")
    report.checked.append("the folder holds exactly the files the manifest names")
    try:
        size, root = int(head["size"]), bytes.fromhex(head["root"])
        head_key = keys[head["key_id"]]

        message = custody.head_message(
            str(head["log"]), size, root, datetime.fromisoformat(head["timestamp"])
        )
        verify_signature(head_key, bytes.fromhex(head["signature"]), message)
    except (KeyError, ValueError, BadSignature):
        raise ExportInvalid("the tree head's signature does not verify") from None
    report.checked.append(f"tree head (size {size}): signature by key {head['key_id']} verifies")
    for item in packages:
        name = str(item["file"])
        path = folder / name
        if path.is_symlink() or not path.is_file() or ".." in Path(name).parts:
            raise ExportInvalid(f"{name} is not a plain file in the export")
        if path.stat().st_size > MAX_PACKAGE:
            raise ExportInvalid(f"{name} is larger than any package")
        data = path.read_bytes()
        try:
            check_package(data, keys, expected_sha256=item["sha256"])
        except PackageInvalid as error:
            raise ExportInvalid(f"{name}: {error}") from None
        entry = item["log_entry"]
        body = str(entry["body"]).encode()
        try:
            logged = json.loads(body)
        except ValueError:
            raise ExportInvalid(f"{name}: its custody-log entry is unreadable") from None
        if (
            logged.get("event") != "sealed"
            or logged.get("package_sha256") != item["sha256"]
            or logged.get("evidence") != item["evidence"]
            or logged.get("position") != entry["position"]
        ):
            raise ExportInvalid(f"{name}: the custody-log entry is not the one for this package")
        try:
            proof = [bytes.fromhex(node) for node in entry["inclusion_proof"]]
            verify_inclusion(leaf_hash(body), int(entry["position"]), size, proof, root)
        except (ProofError, ValueError) as error:
            raise ExportInvalid(f"{name}: the custody-log proof fails: {error}") from None
        report.checked.append(
            f"{name}: SHA-256, seal and custody-log entry {entry['position']} (proof to the "
            "signed tree head) hold"
        )
    return report
