"""The monitor end to end on a small forum on loopback: crawl, hash, match, sightings."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import redis
from PIL import Image
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.cases import service as cases
from reclaim.cases.events import SightingFound
from reclaim.config import Settings
from reclaim.demo.media import render_scene
from reclaim.monitor import frontier
from reclaim.monitor.engine import Monitor, Tally
from reclaim.monitor.models import FrontierUrl, MediaFile, Sighting, Source, UrlState
from reclaim.monitor.politeness import GateUnavailable
from reclaim.monitor.service import SourceOptions, SourceRefused, add_source
from reclaim.monitor.shared_gate import SharedHostGate
from reclaim.monitor.sightings import list_sightings
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.store.base import utcnow
from reclaim.store.claims import worker_id
from tests.services import redis_server

from .conftest import SITE_ADDRESS, Site, send


def _jpeg(pixels: np.ndarray, quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


BANKED_A = render_scene(640, 480, seed=101)
BANKED_B = render_scene(480, 640, seed=102)
UNRELATED = render_scene(640, 480, seed=103)
A_SMALL = _jpeg(np.asarray(Image.fromarray(BANKED_A).resize((320, 240))), 70)
B_MIRRORED = _jpeg(np.ascontiguousarray(BANKED_B[:, ::-1]))
C_PLAIN = _jpeg(UNRELATED)


def _html(body: str) -> bytes:
    return f"<!doctype html><html><body>{body}</body></html>".encode()


FORUM: dict[str, tuple[bytes, str]] = {
    "/forum/": (
        _html('<a href="t/1">one</a> <a href="t/2">two</a> <a href="/elsewhere/">x</a>'),
        "text/html",
    ),
    "/forum/t/1": (
        _html('<img src="/m/a-small.jpg"><img data-src="/m/c.jpg"><img src="/m/broken.jpg">'),
        "text/html; charset=utf-8",
    ),
    "/forum/t/2": (
        _html(
            '<img srcset="/m/b-mirror.jpg 2x, /m/c.jpg 1x">'
            '<a href="/forum/private/x">secret</a><a href="/forum/t/1">again</a>'
        ),
        "text/html",
    ),
    "/forum/private/x": (_html('<img src="/m/hidden.jpg">'), "text/html"),
    "/elsewhere/": (_html('<img src="/m/hidden.jpg">'), "text/html"),
    "/m/a-small.jpg": (A_SMALL, "image/jpeg"),
    "/m/b-mirror.jpg": (B_MIRRORED, "image/jpeg"),
    "/m/c.jpg": (C_PLAIN, "image/jpeg"),
    "/m/hidden.jpg": (A_SMALL, "image/jpeg"),
    "/m/broken.jpg": (b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10, "image/jpeg"),
    "/robots.txt": (b"User-agent: *\nDisallow: /forum/private/\n", "text/plain"),
}


@pytest.fixture
def forum(site: Site) -> Iterator[Site]:
    for path, (body, content_type) in FORUM.items():
        site.routes[path] = lambda h, b=body, t=content_type: send(h, 200, b, t)
    site.hits.clear()
    yield site
    for path in FORUM:
        site.routes.pop(path, None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        fetch_allow_networks=f"{SITE_ADDRESS}/32",
        fetch_retries=0,
        monitor_workers=2,
    )


@pytest.fixture
def case_with_items(database, tmp_path: Path) -> str:
    """A case whose two pictures are banked; returns the case number."""
    paths = []
    for name, pixels in (("a.png", BANKED_A), ("b.png", BANKED_B)):
        path = tmp_path / name
        Image.fromarray(pixels).save(path)
        paths.append(path)
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="test")
        bank = banks.create_bank(session, org=org, name="survivors")
        items = [
            banks.NewItem(hash_file(HashRequest(str(p))).signals, p.name, "file") for p in paths
        ]
        banks.add_items(session, bank=bank, items=items, actor="test", case=case)
        return case.number


def _add_forum(database, forum: Site, **options) -> int:
    with database.session() as session:
        org = cases.get_org(session)
        source = add_source(
            session,
            org=org,
            kind="pages",
            url=forum.url("/forum/"),
            actor="test",
            options=SourceOptions(min_delay=0.0, path_prefix="/forum/", **options),
        )
        return source.id


def _paths(site: Site) -> list[str]:
    return [path for path, _ in site.hits]


def test_banked_pictures_on_the_forum_become_sightings(
    database, settings: Settings, forum: Site, case_with_items: str
) -> None:
    source_id = _add_forum(database, forum)
    with Monitor(database, settings) as monitor:
        tally = monitor.run_once()

    assert tally.pages == 3  # the index and two threads; the private page is robots-skipped
    assert tally.skipped == 1
    assert tally.sightings == 2
    hits = _paths(forum)
    assert "/forum/private/x" not in hits
    assert "/elsewhere/" not in hits
    assert "/m/hidden.jpg" not in hits
    assert hits.count("/m/c.jpg") == 1  # named on two pages, fetched once
    assert hits.count("/forum/t/1") == 1  # linked twice, crawled once

    with database.session() as session:
        org = cases.get_org(session)
        case = cases.get_case(session, org=org, number=case_with_items)
        found = list_sightings(session, org=org, case=case)
        assert sorted(s.media_url.rsplit("/", 1)[-1] for s in found) == [
            "a-small.jpg",
            "b-mirror.jpg",
        ]
        mirrored = next(s for s in found if s.media_url.endswith("b-mirror.jpg"))
        assert mirrored.page_url == forum.url("/forum/t/2")
        assert mirrored.match["signal"] == "pdq"
        assert mirrored.match.get("variant") not in (None, "original")
        assert all(s.source_id == source_id for s in found)
        events = [e for e in cases.timeline(session, case=case) if isinstance(e, SightingFound)]
        assert sorted(e.sighting for e in events) == sorted(s.id for s in found)
        assert {e.site for e in events} == {SITE_ADDRESS}
        broken = session.scalars(select(MediaFile).where(MediaFile.error.is_not(None))).all()
        assert len(broken) == 1  # the damaged file: its reason kept, the crawl went on
        source = session.get(Source, source_id)
        assert source is not None
        assert source.last_finished is not None
        assert source.next_run is not None
        assert source.next_run > utcnow()


def test_a_recrawl_refreshes_sightings_without_hashing_again(
    database, settings: Settings, forum: Site, case_with_items: str
) -> None:
    source_id = _add_forum(database, forum)
    with Monitor(database, settings) as monitor:
        monitor.run_once()
        forum.hits.clear()
        assert monitor.run_once().pages == 0  # not due yet: nothing fetched
        assert forum.hits == []
        with database.session() as session:
            source = session.get(Source, source_id)
            assert source is not None
            source.next_run = utcnow() - timedelta(seconds=1)
            first_seen = {s.id: s.last_seen for s in session.scalars(select(Sighting))}
        again = monitor.run_once()
    assert again.pages == 3
    assert again.hashed == 0
    assert again.sightings == 0
    with database.session() as session:
        rows = session.scalars(select(Sighting)).all()
        assert {s.id for s in rows} == set(first_seen)
        assert all(s.last_seen > first_seen[s.id] for s in rows)


def test_an_interrupted_crawl_resumes_without_fetching_again(
    database, settings: Settings, forum: Site, case_with_items: str
) -> None:
    source_id = _add_forum(database, forum)
    with Monitor(database, settings) as monitor:
        monitor.run_once()
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        source.next_run = utcnow() - timedelta(seconds=1)
        frontier.start_round(session, source=source, now=utcnow())
        # A worker claimed the start page and died (its process is gone).
        claimed = frontier.claim(session, source=source, worker="ghost:999999999", now=utcnow())
        for row in claimed:
            row.claimed_by = f"{worker_id().rsplit(':', 1)[0]}:999999999"
    forum.hits.clear()
    with Monitor(database, settings) as monitor:
        tally = monitor.run_once()
    assert tally.pages == 3
    with database.session() as session:
        states = session.scalars(
            select(FrontierUrl.state).where(FrontierUrl.source_id == source_id)
        ).all()
        assert UrlState.CLAIMED not in states
        assert UrlState.QUEUED not in states


def test_sources_are_checked_when_added(database, case_with_items: str) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        for kind, url in (
            ("pages", "file:///etc/passwd"),
            ("pages", "http://user:pass@example.com/"),
            ("pages", "javascript:alert(1)"),
            ("nonsense", "https://example.com/"),
            ("reported", "https://example.com/post/1"),  # a reported URL needs its case
            ("telegram", "https://example.com/not-a-channel"),
        ):
            with pytest.raises(SourceRefused):
                add_source(session, org=org, kind=kind, url=url, actor="test")
        for options in (
            SourceOptions(max_depth=-1),
            SourceOptions(max_pages=0),
            SourceOptions(min_delay=-1.0),
        ):
            with pytest.raises(SourceRefused):
                add_source(
                    session,
                    org=org,
                    kind="pages",
                    url="https://example.com/",
                    actor="test",
                    options=options,
                )
        add_source(session, org=org, kind="pages", url="https://EXAMPLE.com:443/a", actor="t")
        with pytest.raises(SourceRefused, match="already"):
            add_source(session, org=org, kind="pages", url="https://example.com/a", actor="t")
        channel = add_source(session, org=org, kind="telegram", url="@leakroom_kr", actor="t")
        assert channel.url == "https://t.me/s/leakroom_kr"


def _crawl_served(
    database,
    settings: Settings,
    site: Site,
    routes: dict[str, tuple[bytes, str]],
    start: str,
    listener=None,
    **options,
):
    """Serve ``routes`` on the site, crawl from ``start`` once, take the routes away."""
    for path, (body, content_type) in routes.items():
        site.routes[path] = lambda h, b=body, t=content_type: send(h, 200, b, t)
    try:
        with database.session() as session:
            add_source(
                session,
                org=cases.get_org(session),
                kind="pages",
                url=site.url(start),
                actor="test",
                options=SourceOptions(min_delay=0.0, **options),
            )
        with Monitor(database, settings, listener=listener) as monitor:
            return monitor.run_once()
    finally:
        for path in routes:
            site.routes.pop(path, None)


def test_content_types_that_lie_are_contained(
    database, settings: Settings, site: Site, case_with_items: str
) -> None:
    page = _html(
        '<img src="/lies/photo-called-html">'  # a JPEG labelled text/html
        '<img src="/lies/page-called.jpg">'  # HTML labelled image/jpeg
        '<a href="/lies/pic">a link without a suffix that answers with a picture</a>'
    )
    routes = {
        "/lies/": (page, "text/html"),
        "/lies/photo-called-html": (A_SMALL, "text/html; charset=utf-8"),
        "/lies/page-called.jpg": (_html("<p>not a picture</p>"), "image/jpeg"),
        "/lies/pic": (B_MIRRORED, "image/jpeg"),
    }
    tally = _crawl_served(database, settings, site, routes, "/lies/", max_depth=1)
    assert tally.media_failures == 1  # the page that called itself a JPEG: refused, recorded
    with database.session() as session:
        found = {s.media_url.removeprefix(site.url("")) for s in session.scalars(select(Sighting))}
        failed = session.scalars(select(MediaFile.error).where(MediaFile.error.is_not(None))).all()
    assert found == {"/lies/photo-called-html", "/lies/pic"}
    assert len(failed) == 1
    assert "unsupported" in (failed[0] or "")


@pytest.mark.parametrize(
    "segment",
    [
        "http://127.0.0.1:{trap}/secret.ts",
        "http://169.254.169.254/latest/meta-data/x.ts",
        "http://[::ffff:127.0.0.1]:{trap}/y.ts",
        "http://2130706433:{trap}/z.ts",
        "file:///etc/passwd",
    ],
)
def test_a_playlist_pointing_at_forbidden_places_fetches_nothing_there(
    database, settings: Settings, site: Site, trap: Site, segment: str
) -> None:
    playlist = f"#EXTM3U\n#EXTINF:2,\n{segment.format(trap=trap.port)}\n#EXT-X-ENDLIST\n"
    routes = {
        "/evil/": (_html('<video src="/evil/p.m3u8"></video>'), "text/html"),
        "/evil/p.m3u8": (playlist.encode(), "application/vnd.apple.mpegurl"),
    }
    outcomes: list[object] = []
    tally = _crawl_served(
        database,
        settings,
        site,
        routes,
        "/evil/",
        max_depth=0,
        listener=lambda what, event: outcomes.append(event) if what == "media" else None,
    )
    assert tally.media_failures == 1
    (outcome,) = outcomes
    assert outcome.outcome == "failed"
    assert outcome.detail.startswith("a segment of the stream ")
    assert "forbidden address" in outcome.detail or "only http and https" in outcome.detail
    assert trap.accepted == 0  # not one connection reached it


def test_a_page_met_while_redis_is_away_waits_instead_of_failing(
    database, settings: Settings, forum: Site, case_with_items: str, tmp_path: Path
) -> None:
    """Workers share their turns at sites through Redis: while it is away (restarted), a
    page cannot be fetched politely, so it is put back for later -- never marked failed,
    which would lose it and every page behind it until the next round."""
    source_id = _add_forum(database, forum)
    with redis_server(tmp_path / "redis", durable=False) as server:
        gate = SharedHostGate(redis.Redis.from_url(server.url), outage=0.2)
        server.stop()
        with Monitor(database, settings, gate=gate) as monitor:
            plan = monitor.open_round(source_id)
            with pytest.raises(GateUnavailable):
                monitor.work(plan, Tally(), wait=False)
            with database.session() as session:
                states = session.scalars(
                    select(FrontierUrl.state).where(FrontierUrl.source_id == source_id)
                ).all()
            assert states == [UrlState.QUEUED]  # the start page, given back
            assert "/forum/" not in _paths(forum)  # not fetched without a turn
            server.start()
            tally = monitor.run_once()
    assert tally.pages == 3
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.get_case(session, org=org, number=case_with_items)
        assert {s.media_url for s in list_sightings(session, org=org, case=case)} == {
            forum.url("/m/a-small.jpg"),
            forum.url("/m/b-mirror.jpg"),
        }
