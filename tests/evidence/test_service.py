"""Evidence end to end on the demo forum: a confirmed sighting is captured without being
asked, sealed, stored encrypted and logged; it checks out offline and is proven in the
custody log; shredding the case leaves the log whole."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import DemoSite, serve
from reclaim.demo.story import register_originals
from reclaim.evidence import custody
from reclaim.evidence.keys import create_key, org_keys
from reclaim.evidence.merkle import leaf_hash, verify_inclusion
from reclaim.evidence.models import CustodyEntry
from reclaim.evidence.service import EvidenceDesk, list_evidence
from reclaim.evidence.wacz import check_package
from reclaim.monitor.engine import Monitor
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.render import CHROMIUM
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.sightings import review_sighting
from reclaim.store.blobs import Shredded
from reclaim.store.envelope import MasterKey

from ..monitor.conftest import SITE_ADDRESS, Site


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSite]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
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
        with EvidenceDesk(database, settings, master) as desk:
            desk.blobs.shred(session, case_id=case.id)
    with EvidenceDesk(database, settings, master) as desk, pytest.raises(Shredded):
        desk.package_bytes(kept)
    with database.session() as session:
        assert custody.verify_log(session, org=cases.get_org(session)).ok  # hashes remain
