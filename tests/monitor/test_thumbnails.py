"""Thumbnails of new sightings: encrypted per case, never for a minor's case, never
without the master key, never in the way of recording a sighting, gone once shredded."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import render_scene
from reclaim.media.limits import MediaLimits
from reclaim.media.thumbnail import Thumbnailer, blurred_preview
from reclaim.monitor.engine import Monitor
from reclaim.monitor.extract import MediaRef
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import parse_networks
from reclaim.monitor.media import InPlace, MediaStep
from reclaim.monitor.models import Sighting
from reclaim.monitor.recognise import Recogniser, Where
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.sightings import list_sightings, thumbnail_of
from reclaim.signals import PdqSignalType, pdq_from_rgb
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.signals.hasher import FileHasher
from reclaim.store.base import utcnow
from reclaim.store.blobs import Blob, BlobStore
from reclaim.store.envelope import MasterKey
from tests.media.generate import write_video

from .conftest import SITE_ADDRESS, Site, send

BANKED = render_scene(640, 480, seed=301)
UNRELATED = render_scene(640, 480, seed=302)


def _jpeg(pixels: np.ndarray, quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


FOUND = _jpeg(np.asarray(Image.fromarray(BANKED).resize((480, 360))), 80)
BROKEN = b"\xff\xd8\xff\xe0 not really a jpeg" * 10


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        fetch_allow_networks=f"{SITE_ADDRESS}/32",
        fetch_retries=0,
        monitor_workers=2,
    )


@pytest.fixture
def master(settings: Settings) -> MasterKey:
    return MasterKey.create(settings.resolved_master_key_file)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return write_video(path, seconds=3.0, size=(320, 240), seed=7).read_bytes()


@pytest.fixture
def board(site: Site, video: bytes) -> Iterator[Site]:
    """A page with the banked picture (its URL carries a token), a damaged picture, an
    unrelated one and the banked video."""
    page = (
        b"<!doctype html><html><body>"
        b'<img src="/tb/found.jpg?token=s3cret-token">'
        b'<img src="/tb/broken.jpg"><img src="/tb/other.jpg">'
        b'<video src="/tb/clip.mp4"></video>'
        b"</body></html>"
    )
    routes = {
        "/tb/": (page, "text/html"),
        "/tb/found.jpg": (FOUND, "image/jpeg"),
        "/tb/broken.jpg": (BROKEN, "image/jpeg"),
        "/tb/other.jpg": (_jpeg(UNRELATED), "image/jpeg"),
        "/tb/clip.mp4": (video, "video/mp4"),
    }
    for path, (body, content_type) in routes.items():
        site.routes[path] = lambda h, b=body, t=content_type: send(h, 200, b, t)
    yield site
    for path in routes:
        site.routes.pop(path, None)


def _bank(database, tmp_path: Path, video: bytes, *, minor: bool = False) -> str:
    """A case whose picture and video are banked; returns its number."""
    picture = tmp_path / "banked.png"
    Image.fromarray(BANKED).save(picture)
    clip = tmp_path / "banked.mp4"
    clip.write_bytes(video)
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="test")
        case.minor = minor
        try:
            bank = banks.get_bank(session, org=org, name="survivors")
        except banks.NotFound:
            bank = banks.create_bank(session, org=org, name="survivors")
        items = [
            banks.NewItem(hash_file(HashRequest(str(p))).signals, p.name, "file")
            for p in (picture, clip)
        ]
        banks.add_items(session, bank=bank, items=items, actor="test", case=case)
        return case.number


def _crawl(database, settings: Settings, board: Site) -> None:
    with database.session() as session:
        add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url=board.url("/tb/"),
            actor="test",
            options=SourceOptions(min_delay=0.0, max_depth=0),
        )
    with Monitor(database, settings) as monitor:
        tally = monitor.run_once()
    assert tally.media == 4
    assert tally.media_failures == 1  # the damaged picture: recorded, the crawl went on
    assert tally.sightings == 2


def _sightings(session, number: str) -> list[Sighting]:
    org = cases.get_org(session)
    return list_sightings(session, org=org, case=cases.get_case(session, org=org, number=number))


def _distance(jpeg: bytes, pixels: np.ndarray) -> int:
    thumb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    small = np.asarray(Image.fromarray(pixels).resize(thumb.shape[1::-1]))
    return PdqSignalType.distance(pdq_from_rgb(thumb).value, pdq_from_rgb(small).value)


def test_new_sightings_keep_an_encrypted_thumbnail(
    database, settings: Settings, master: MasterKey, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    _crawl(database, settings, board)
    store = BlobStore(Path(settings.data_dir) / "blobs", master)
    with database.session() as session:
        found = {s.media_url.rsplit("/", 1)[-1]: s for s in _sightings(session, number)}
        assert set(found) == {"found.jpg?token=s3cret-token", "clip.mp4"}
        picture = found["found.jpg?token=s3cret-token"]
        clip = found["clip.mp4"]
        thumbs = {}
        for name, sighting in (("picture", picture), ("clip", clip)):
            assert sighting.thumbnail_blob_id is not None
            blob = session.get(Blob, sighting.thumbnail_blob_id)
            assert blob is not None
            assert (blob.kind, blob.case_id, blob.org_id) == (
                "thumbnail",
                sighting.case_id,
                sighting.org_id,
            )
            data = thumbnail_of(session, sighting=sighting, blobs=store)
            assert data is not None
            raw = (store.root / blob.id[:2] / blob.id).read_bytes()
            assert data[:64] not in raw  # encrypted at rest
            thumbs[name] = data
    image = Image.open(io.BytesIO(thumbs["picture"]))
    assert (image.format, image.size) == ("JPEG", (320, 240))
    assert _distance(thumbs["picture"], BANKED) <= 20
    assert Image.open(io.BytesIO(thumbs["clip"])).size == (320, 240)
    assert Image.open(io.BytesIO(blurred_preview(thumbs["picture"]))).mode == "L"


def test_a_minors_case_keeps_no_thumbnail(
    database, settings: Settings, master: MasterKey, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video, minor=True)
    _crawl(database, settings, board)
    store = BlobStore(Path(settings.data_dir) / "blobs", master)
    with database.session() as session:
        found = _sightings(session, number)
        assert len(found) == 2
        assert all(s.thumbnail_blob_id is None for s in found)
        assert all(thumbnail_of(session, sighting=s, blobs=store) is None for s in found)
        assert session.scalars(select(Blob)).all() == []
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_a_case_marked_a_minors_later_shows_no_thumbnail(
    database, settings: Settings, master: MasterKey, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    _crawl(database, settings, board)
    store = BlobStore(Path(settings.data_dir) / "blobs", master)
    with database.session() as session:
        org = cases.get_org(session)
        cases.get_case(session, org=org, number=number).minor = True
    with database.session() as session:
        for sighting in _sightings(session, number):
            assert sighting.thumbnail_blob_id is not None
            assert thumbnail_of(session, sighting=sighting, blobs=store) is None


def test_without_a_master_key_sightings_are_recorded_without_thumbnails(
    database,
    settings: Settings,
    board: Site,
    tmp_path: Path,
    video: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    number = _bank(database, tmp_path, video)
    with caplog.at_level(logging.INFO, logger="reclaim.monitor"):
        _crawl(database, settings, board)
    said = [r for r in caplog.records if "keep no thumbnails" in r.getMessage()]
    assert len(said) == 1
    assert said[0].levelno == logging.INFO
    with database.session() as session:
        found = _sightings(session, number)
        assert len(found) == 2
        assert all(s.thumbnail_blob_id is None for s in found)
        assert session.scalars(select(Blob)).all() == []


def test_a_shredded_thumbnail_reads_as_gone(
    database, settings: Settings, master: MasterKey, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    _crawl(database, settings, board)
    store = BlobStore(Path(settings.data_dir) / "blobs", master)
    with database.session() as session:
        found = _sightings(session, number)
        assert all(thumbnail_of(session, sighting=s, blobs=store) for s in found)
        case_id = found[0].case_id
        assert case_id is not None
        assert store.shred(session, case_id=case_id) == 2
    with database.session() as session:
        for sighting in _sightings(session, number):
            assert sighting.thumbnail_blob_id is not None
            assert thumbnail_of(session, sighting=sighting, blobs=store) is None
            # Reading needs no master key to know a shredded thumbnail is gone.
            keyless = BlobStore(store.root, None)
            assert thumbnail_of(session, sighting=sighting, blobs=keyless) is None


# -- the media step on its own: failures, and a file met again ------------------------


@pytest.fixture
def step_parts(settings: Settings, master: MasterKey) -> Iterator[tuple[Fetcher, FileHasher]]:
    limits = FetchLimits(allow=parse_networks(f"{SITE_ADDRESS}/32"), retries=0)
    hasher = FileHasher(settings)
    with Fetcher(limits) as fetcher:
        yield fetcher, hasher
    hasher.close()


def _step(database, settings, master, parts, thumbnailer: Thumbnailer) -> MediaStep:
    fetcher, hasher = parts
    recogniser = Recogniser(
        database,
        MatcherCache(),
        hasher,
        blobs=BlobStore(Path(settings.data_dir) / "blobs", master),
        thumbnailer=thumbnailer,
    )
    workdir = Path(settings.data_dir) / "work"
    return MediaStep(database, fetcher, InPlace(database, recogniser), workdir)


def test_a_thumbnail_that_cannot_be_made_never_stops_the_sighting(
    database,
    settings: Settings,
    master: MasterKey,
    board: Site,
    tmp_path: Path,
    video: bytes,
    step_parts: tuple[Fetcher, FileHasher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    number = _bank(database, tmp_path, video)
    # Thumbnail limits far below the hashing limits: the picture hashes, its thumbnail fails.
    thumbnailer = Thumbnailer(MediaLimits(max_pixels=10_000))
    try:
        step = _step(database, settings, master, step_parts, thumbnailer)
        with database.session() as session:
            org_id = cases.get_org(session).id
        where = Where(org_id, None, board.url("/tb/"), fresh_after=None)
        ref = MediaRef(board.url("/tb/found.jpg?token=s3cret-token"), "image", "img")
        with caplog.at_level(logging.INFO, logger="reclaim.monitor"):
            outcome = step.handle(ref, where)
    finally:
        thumbnailer.close()
    assert (outcome.outcome, outcome.new_sightings) == ("hashed", 1)
    with database.session() as session:
        (sighting,) = _sightings(session, number)
        assert sighting.thumbnail_blob_id is None
    said = [r.getMessage() for r in caplog.records if "no thumbnail" in r.getMessage()]
    assert len(said) == 1
    assert "too_large" in said[0]
    assert board.url("/tb/found.jpg") in said[0]
    assert "s3cret" not in caplog.text


def test_a_file_met_again_shares_its_cases_thumbnail_and_no_other(
    database,
    settings: Settings,
    master: MasterKey,
    board: Site,
    tmp_path: Path,
    video: bytes,
    step_parts: tuple[Fetcher, FileHasher],
) -> None:
    first_case = _bank(database, tmp_path, video)
    thumbnailer = Thumbnailer(MediaLimits())
    try:
        step = _step(database, settings, master, step_parts, thumbnailer)
        with database.session() as session:
            org_id = cases.get_org(session).id
        ref = MediaRef(board.url("/tb/found.jpg"), "image", "img")
        start = utcnow()
        assert step.handle(ref, Where(org_id, None, board.url("/tb/"), start)).new_sightings == 1

        # Later the same picture is banked again: a smaller copy in the first case, and
        # the picture in a second case. Met again in the same round, the file is not
        # fetched: its bytes are gone.
        smaller = tmp_path / "smaller.jpg"
        smaller.write_bytes(_jpeg(np.asarray(Image.fromarray(BANKED).resize((400, 300)))))
        with database.session() as session:
            org = cases.get_org(session)
            bank = banks.get_bank(session, org=org, name="survivors")
            case = cases.get_case(session, org=org, number=first_case)
            item = banks.NewItem(hash_file(HashRequest(str(smaller))).signals, "copy", "file")
            banks.add_items(session, bank=bank, items=[item], actor="test", case=case)
        (tmp_path / "second").mkdir()
        second_case = _bank(database, tmp_path / "second", video)
        board.hits.clear()
        again = step.handle(ref, Where(org_id, None, board.url("/tb/t2"), start))
        assert (again.outcome, again.new_sightings) == ("known", 2)
        assert board.hits == []
    finally:
        thumbnailer.close()
    with database.session() as session:
        first = _sightings(session, first_case)
        assert len(first) == 2
        assert first[0].thumbnail_blob_id is not None
        assert first[1].thumbnail_blob_id == first[0].thumbnail_blob_id
        (other,) = _sightings(session, second_case)
        assert other.thumbnail_blob_id is None  # blobs are per case: never borrowed
        assert len(session.scalars(select(Blob)).all()) == 1
