"""Evidence end to end on the demo forum: a confirmed sighting is captured without being
asked, sealed, stored encrypted and logged; it checks out offline and is proven in the
custody log; shredding the case leaves the log whole."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.cases.models import ConsentPurpose
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import DemoSite, serve
from reclaim.demo.story import register_originals
from reclaim.evidence import custody
from reclaim.evidence.export import (
    MANIFEST_PREFIX,
    ExportInvalid,
    ExportRefused,
    export_case,
    verify_export,
)
from reclaim.evidence.keys import create_key, org_keys, raw_public, verify_signature
from reclaim.evidence.merkle import leaf_hash, verify_inclusion
from reclaim.evidence.models import CustodyEntry, Evidence
from reclaim.evidence.service import (
    ANNOTATION_PREFIX,
    EvidenceDesk,
    annotate,
    destroy_case_data,
    hold_case,
    list_evidence,
    record_view,
    release_case,
)
from reclaim.evidence.wacz import check_package
from reclaim.monitor.engine import Monitor
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.sightings import review_sighting
from reclaim.store.blobs import HoldActive, Shredded
from reclaim.store.envelope import MasterKey

from ..monitor.conftest import SITE_ADDRESS, Site, require_chromium


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSite]:
    require_chromium()
    site = serve(SITE_ADDRESS, 0)
    yield site
    site.close()


def test_a_confirmed_sighting_becomes_sealed_logged_evidence(
    database, demo: DemoSite, site: Site, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        fetch_allow_networks=f"{SITE_ADDRESS}/32",
        fetch_retries=0,
        capture_timeout=20,
    )
    master = MasterKey.create(settings.resolved_master_key_file)
    originals = make_demo_folder(tmp_path / "originals")
    with database.session() as session:
        org = cases.get_org(session)
        create_key(session, org=org, master=master)
        number = register_originals(session, folder=originals, actor="test").number
        add_source(
            session,
            org=org,
            kind="pages",
            url=f"{demo.base_url}/board?page=1",
            actor="test",
            options=SourceOptions(min_delay=0.0, max_depth=1),
        )
    with Monitor(database, settings) as monitor:
        monitor.run_once()
    with database.session() as session:
        org = cases.get_org(session)
        found = session.scalars(select(Sighting).order_by(Sighting.id)).all()
        assert found, "the crawl found the planted copies"
        chosen = next(s for s in found if s.media_url.endswith("/img/full/t1.jpg"))
        review_sighting(
            session, org=org, sighting_id=chosen.id, status=SightingStatus.CONFIRMED, actor="t"
        )
    with EvidenceDesk(database, settings, master) as desk:
        (kept,) = desk.capture_confirmed()
        assert desk.capture_confirmed() == []  # captured once
        assert kept.status == "sealed", kept.error
        package = desk.package_bytes(kept)
        failed = desk.capture(org_id=kept.org_id, url=site.url("/redirect-loopback"), actor="test")
    assert failed.status == "failed"
    assert "refused" in (failed.error or "")
    with database.session() as session:
        org = cases.get_org(session)
        public = {k.key_id: k.public_key for k in org_keys(session, org=org)}
        report = check_package(package, public, expected_sha256=kept.package_sha256)
        assert report.facts["case"] == number
        assert report.facts["final_url"] == chosen.page_url
        assert any(m.get("url") == chosen.media_url for m in report.facts["media"])
        entries = session.scalars(select(CustodyEntry).order_by(CustodyEntry.position)).all()
        assert [e.body.count('"event":"captured"') for e in entries] == [1, 0]
        head = custody.sign_head(session, org=org, master=master)
        proof = custody.tree(session, org=org).inclusion_proof(kept.log_position, head.size)
        sealed_entry = entries[kept.log_position].body.encode()
        verify_inclusion(leaf_hash(sealed_entry), kept.log_position, head.size, proof, head.root)
        assert kept.package_sha256 in entries[kept.log_position].body
        assert [e.status for e in list_evidence(session, org=org)] == ["sealed", "failed"]
        case = cases.get_case(session, org=org, number=number)
        out = tmp_path / "export"
        with EvidenceDesk(database, settings, master) as desk:
            with pytest.raises(ExportRefused):  # no consent, no legal basis
                export_case(
                    session,
                    org=org,
                    case=case,
                    blobs=desk.blobs,
                    master=master,
                    out=out,
                    actor="staff",
                )
            cases.record_consent(
                session,
                case=case,
                purpose=ConsentPurpose.POLICE_EVIDENCE,
                granted=True,
                actor="staff",
                note="by phone",
            )
            manifest = export_case(
                session,
                org=org,
                case=case,
                blobs=desk.blobs,
                master=master,
                out=out,
                actor="staff",
            )
        assert manifest["basis"]["consent"] == "recorded"
    _check_export_and_its_mutations(out, tmp_path)
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.get_case(session, org=org, number=number)
        sealed_row = session.get(Evidence, kept.id)
        assert sealed_row is not None
        note = annotate(
            session,
            org=org,
            evidence=sealed_row,
            actor="staff",
            text="두 번째 게시물에도 있음",
            master=master,
        )
        logged = json.loads(note.body)
        key = {k.key_id: k.public_key for k in org_keys(session, org=org)}[logged["key_id"]]
        verify_signature(
            key,
            bytes.fromhex(logged["signature"]),
            ANNOTATION_PREFIX + custody.canonical(logged["annotation"]),
        )
        assert logged["annotation"]["refers_to"] == kept.package_sha256
        failed_row = session.get(Evidence, failed.id)
        assert failed_row is not None
        with pytest.raises(ValueError, match="not sealed"):
            annotate(session, org=org, evidence=failed_row, actor="x", text="y", master=master)
        record_view(session, org=org, evidence=sealed_row, actor="staff", what="screenshot")
        with EvidenceDesk(database, settings, master) as desk:
            hold_case(session, org=org, case=case, actor="staff", reason="police case 2026-17")
            with pytest.raises(HoldActive):
                destroy_case_data(session, org=org, case=case, blobs=desk.blobs, actor="her")
            release_case(session, org=org, case=case, actor="staff")
            assert destroy_case_data(session, org=org, case=case, blobs=desk.blobs, actor="her")
    with EvidenceDesk(database, settings, master) as desk, pytest.raises(Shredded):
        desk.package_bytes(kept)
    with database.session() as session:
        assert custody.verify_log(session, org=cases.get_org(session)).ok  # hashes remain
        events = [json.loads(b)["event"] for b in session.scalars(select(CustodyEntry.body))]
        assert events == [
            "captured",
            "sealed",
            "exported",
            "annotated",
            "viewed",
            "held",
            "released",
            "deleted",
        ]
        org = cases.get_org(session)
        case = cases.get_case(session, org=org, number=number)
        timeline = [e.name for e in cases.timeline(session, case=case)]
        assert timeline[-5:] == [
            "evidence.sealed",
            "evidence.exported",
            "hold.placed",
            "hold.released",
            "data.destroyed",
        ]


def _check_export_and_its_mutations(out: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "elsewhere" / "export"  # verified from a fresh folder, by itself
    shutil.copytree(out, fresh)
    report = verify_export(fresh)
    assert any("custody-log entry" in line for line in report.checked)
    _check_the_pdf(fresh / "report.pdf", tmp_path)
    command = [sys.executable, "-m", "reclaim.cli", "evidence", "verify", str(fresh)]
    held = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert held.returncode == 0, held.stdout + held.stderr
    assert held.stdout.endswith("verdict: the evidence holds\n")
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "manifest.json").write_bytes(b"\x00not json")
    (garbage / "manifest.sig").write_text("{}")
    refused = subprocess.run([*command[:-1], str(garbage)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert "does NOT hold" in refused.stdout
    files = sorted(p for p in fresh.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"manifest.json", "manifest.sig", "VERIFY.txt"}
    caught = 0
    for path in files:
        original = path.read_bytes()
        step = max(1, len(original) // 40)
        for offset in [*range(0, len(original), step), len(original) - 1]:
            changed = bytearray(original)
            changed[offset] ^= 0x01
            path.write_bytes(bytes(changed))
            with pytest.raises(ExportInvalid) as failure:
                verify_export(fresh)
            assert path.name in str(failure.value) or "signature" in str(failure.value)
            caught += 1
        path.write_bytes(original)
        path.unlink()  # a file dropped
        with pytest.raises(ExportInvalid, match="missing"):
            verify_export(fresh)
        path.write_bytes(original)
    (fresh / "packages" / "extra.wacz").write_bytes(b"more")  # a file added
    with pytest.raises(ExportInvalid, match="not in the manifest"):
        verify_export(fresh)
    (fresh / "packages" / "extra.wacz").unlink()
    manifest = json.loads((fresh / "manifest.json").read_bytes())
    stranger = Ed25519PrivateKey.generate()
    for key_id in manifest["public_keys"]:  # the public key replaced, everything re-signed
        manifest["public_keys"][key_id] = raw_public(stranger.public_key()).hex()
    forged = json.dumps(manifest).encode()
    (fresh / "manifest.json").write_bytes(forged)
    (fresh / "manifest.sig").write_text(
        json.dumps(
            {
                "key_id": manifest["manifest_key_id"],
                "signature": stranger.sign(MANIFEST_PREFIX + forged).hex(),
            }
        )
    )
    with pytest.raises(ExportInvalid):
        verify_export(fresh)
    assert caught > 100


def _check_the_pdf(pdf: Path, tmp_path: Path) -> None:
    """The report renders, and its Korean text is text (extracted with pdftotext)."""
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode()
    for expected in ("디지털 성범죄 증거 보고서", "보관 연속성", "Chain of custody", "검증 방법"):
        assert expected in text, expected
    assert "봉인 / sealed" in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    (page,) = tmp_path.glob("page*.png")
    assert page.stat().st_size > 1000
