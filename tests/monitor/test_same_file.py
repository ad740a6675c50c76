"""The very same file at another address: a crop of a banked picture is found by its
pixels where it is first met; wherever else the same bytes turn up, their stored hashes
alone do not find it, and the earlier sighting lends its item -- unless a person rejected
that sighting or the item was withdrawn since."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_demo_folder
from reclaim.demo.site import DemoSite, serve
from reclaim.demo.story import BANK, register_originals
from reclaim.monitor.engine import Monitor
from reclaim.monitor.models import MediaFile, Sighting, SightingStatus
from reclaim.monitor.recognise import Recogniser
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.sightings import review_sighting

from .conftest import SITE_ADDRESS, Site, send

CROPPED = "/img/full/t3.jpg"
"""The demo forum's copy of photo-3.jpg with its margins cropped off."""


@pytest.fixture(scope="module")
def crop() -> Iterator[bytes]:
    demo: DemoSite = serve(SITE_ADDRESS, 0)
    try:
        yield httpx.get(f"{demo.base_url}{CROPPED}", timeout=30).content
    finally:
        demo.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", fetch_allow_networks=f"{SITE_ADDRESS}/32", fetch_retries=0
    )


def _crawl(database, settings: Settings, site: Site, folder: str, crop: bytes) -> None:
    """Put the crop on a page of its own under ``folder`` and crawl that page."""
    page = f'<html><body><img src="/{folder}/copy.jpg?from={folder}"></body></html>'.encode()
    site.routes[f"/{folder}/"] = lambda h: send(h, 200, page, "text/html")
    site.routes[f"/{folder}/copy.jpg"] = lambda h: send(h, 200, crop, "image/jpeg")
    with database.session() as session:
        add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url=site.url(f"/{folder}/"),
            actor="test",
            options=SourceOptions(min_delay=0.0, max_depth=0),
        )
    with Monitor(database, settings) as monitor:
        monitor.run_once()


def _found(database) -> dict[str, Sighting]:
    with database.session() as session:
        sightings = session.scalars(select(Sighting).order_by(Sighting.id)).all()
        return {s.media_url.rsplit("=", 1)[-1]: s for s in sightings}


def test_the_same_bytes_elsewhere_are_found_through_the_first_sighting(
    database, settings: Settings, site: Site, crop: bytes, tmp_path: Path
) -> None:
    with database.session() as session:
        register_originals(session, folder=make_demo_folder(tmp_path / "originals"), actor="t")
    _crawl(database, settings, site, "first", crop)
    first = _found(database)["first"]
    assert first.match["item_id"]
    # Its stored hashes alone do not find the crop: only the pixels did.
    with database.session() as session:
        stored = session.get(MediaFile, first.media_sha256)
        assert stored is not None
        signals = Recogniser(database, None).stored(stored.sha256)
        assert signals is not None
        org = cases.get_org(session)
        again = MatcherCache().match(session, org=org, shared_only=False, signals=signals)
    assert [m for m in again if m.item_id == first.match["item_id"]] == []

    _crawl(database, settings, site, "second", crop)
    second = _found(database)["second"]
    assert second.item_id == first.item_id
    assert second.match == {**first.match, "same_file_as": first.id}
    assert second.page_url.endswith("/second/")

    with database.session() as session:  # a person says the first two were wrong
        org = cases.get_org(session)
        for sighting in (first, second):
            review_sighting(
                session,
                org=org,
                sighting_id=sighting.id,
                status=SightingStatus.REJECTED,
                actor="reviewer",
            )
    _crawl(database, settings, site, "third", crop)
    assert "third" not in _found(database)


def test_a_withdrawn_item_lends_nothing(
    database, settings: Settings, site: Site, crop: bytes, tmp_path: Path
) -> None:
    with database.session() as session:
        register_originals(session, folder=make_demo_folder(tmp_path / "originals"), actor="t")
    _crawl(database, settings, site, "before", crop)
    item_id = _found(database)["before"].match["item_id"]
    with database.session() as session:
        bank = banks.get_bank(session, org=cases.get_org(session), name=BANK)
        banks.withdraw_item(session, bank=bank, public_id=item_id, actor="survivor")
    _crawl(database, settings, site, "after", crop)
    assert "after" not in _found(database)
