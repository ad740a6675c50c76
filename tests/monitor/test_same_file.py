"""The very same file at another address: a crop of a banked picture is found by its
pixels where it is first met; wherever else the same bytes turn up, their stored hashes
alone do not find it, and the earlier sighting lends its item -- unless a person rejected
that sighting or the item was withdrawn since."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_photo, render_scene
from reclaim.monitor.engine import Monitor
from reclaim.monitor.models import MediaFile, Sighting, SightingStatus
from reclaim.monitor.recognise import Recogniser
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.sightings import review_sighting
from reclaim.signals.base import Signal
from reclaim.signals.filehash import HashRequest, hash_file

from .conftest import SITE_ADDRESS, Site, send


@pytest.fixture(scope="module")
def crop() -> bytes:
    """photo-3.jpg with its margins cropped off, as the demo forum's t3.jpg is."""
    out = io.BytesIO()
    Image.fromarray(render_scene(1600, 1200, 2)[60:-60, 80:-80]).save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> list[Signal]:
    """The signals of the demo's photo-3.jpg, the picture the crop was cut from."""
    path = make_photo(tmp_path_factory.mktemp("original") / "photo-3.jpg", 1600, 1200, seed=2)
    return list(hash_file(HashRequest(str(path))).signals)


def _bank(database, signals: list[Signal]) -> str:
    """Bank the original for a case; the item's public id."""
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="test")
        bank = banks.create_bank(session, org=org, name="survivors")
        new = banks.NewItem(signals, "photo-3.jpg", "test")
        (item,) = banks.add_items(session, bank=bank, items=[new], actor="test", case=case)
        return item.public_id


@pytest.fixture
def monitor(database, settings: Settings) -> Iterator[Monitor]:
    with Monitor(database, settings) as made:
        yield made


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", fetch_allow_networks=f"{SITE_ADDRESS}/32", fetch_retries=0
    )


def _crawl(database, monitor: Monitor, site: Site, folder: str, crop: bytes) -> None:
    """Put the crop on a page of its own under ``folder`` and crawl that page."""
    page = f'<html><body><img src="/{folder}/copy.jpg?from={folder}"></body></html>'.encode()
    site.routes[f"/{folder}/"] = lambda h: send(h, 200, page, "text/html")
    site.routes[f"/{folder}/copy.jpg"] = lambda h: send(h, 200, crop, "image/jpeg")
    with database.session() as session:
        source = add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url=site.url(f"/{folder}/"),
            actor="test",
            options=SourceOptions(min_delay=0.0, max_depth=0),
        )
        source_id = source.id
    monitor.run_once([source_id])


def _found(database) -> dict[str, Sighting]:
    with database.session() as session:
        sightings = session.scalars(select(Sighting).order_by(Sighting.id)).all()
        return {s.media_url.rsplit("=", 1)[-1]: s for s in sightings}


def test_the_same_bytes_elsewhere_are_found_through_the_first_sighting(
    database, monitor: Monitor, site: Site, crop: bytes, original: list[Signal]
) -> None:
    item_id = _bank(database, original)
    _crawl(database, monitor, site, "first", crop)
    first = _found(database)["first"]
    assert first.match["item_id"] == item_id
    # Its stored hashes alone do not find the crop: only the pixels did.
    with database.session() as session:
        stored = session.get(MediaFile, first.media_sha256)
        assert stored is not None
        signals = Recogniser(database, None).stored(stored.sha256)
        assert signals is not None
        org = cases.get_org(session)
        again = MatcherCache().match(session, org=org, shared_only=False, signals=signals)
    assert [m for m in again if m.item_id == item_id] == []

    _crawl(database, monitor, site, "second", crop)
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
    _crawl(database, monitor, site, "third", crop)
    assert "third" not in _found(database)


def test_a_withdrawn_item_lends_nothing(
    database, monitor: Monitor, site: Site, crop: bytes, original: list[Signal]
) -> None:
    item_id = _bank(database, original)
    _crawl(database, monitor, site, "before", crop)
    assert _found(database)["before"].match["item_id"] == item_id
    with database.session() as session:
        bank = banks.get_bank(session, org=cases.get_org(session), name="survivors")
        banks.withdraw_item(session, bank=bank, public_id=item_id, actor="survivor")
    _crawl(database, monitor, site, "after", crop)
    assert "after" not in _found(database)
