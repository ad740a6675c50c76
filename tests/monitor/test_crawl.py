"""Crawling a small site on loopback through the frontier: scope, depth, page limits,
robots.txt, reported pages, failures that do not stop a crawl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.monitor.crawl import Visit
from reclaim.monitor.engine import Monitor
from reclaim.monitor.media import MediaOutcome
from reclaim.monitor.service import SourceOptions, add_source

from .conftest import SITE_ADDRESS, Site, send

PAGES = {
    "/site/": ["a", "b", "/outside/x", "http://other.example/", "private/p", "a#again", "v.mp4"],
    "/site/a": ["c", "/site/"],
    "/site/b": ["b"],
    "/site/c": ["d"],
    "/site/d": [],
    "/site/private/p": [],
    "/outside/x": [],
}
ROBOTS = b"User-agent: *\nDisallow: /site/private/\n"


def _page(links: list[str], name: str) -> bytes:
    anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return f'<html><body>{anchors}<img src="/img/{name}.jpg"></body></html>'.encode()


@pytest.fixture
def small_site(site: Site) -> Iterator[Site]:
    added = {}
    for path, links in PAGES.items():
        body = _page(links, path.strip("/").replace("/", "-") or "index")
        added[path] = lambda h, body=body: send(h, 200, body, "text/html; charset=utf-8")
    added["/robots.txt"] = lambda h: send(h, 200, ROBOTS, "text/plain")
    site.routes.update(added)
    yield site
    for path in added:
        del site.routes[path]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", fetch_allow_networks=f"{SITE_ADDRESS}/32", fetch_retries=0
    )


class Crawled:
    """Every page visit and media outcome of a crawl, keyed by path."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.pages: dict[str, Visit] = {}
        self.media: dict[str, MediaOutcome] = {}

    def __call__(self, what: str, event: object) -> None:
        if isinstance(event, Visit):
            self.pages[event.url.removeprefix(self.base)] = event
        elif isinstance(event, MediaOutcome):
            self.media[event.url.removeprefix(self.base)] = event

    def outcomes(self) -> dict[str, str]:
        return {path: visit.outcome for path, visit in self.pages.items()}


def _crawl(
    database, settings: Settings, site: Site, start: str, kind: str = "pages", **options
) -> Crawled:
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="test") if kind == "reported" else None
        source = add_source(
            session,
            org=org,
            kind=kind,
            url=site.url(start),
            actor="test",
            case=case,
            options=SourceOptions(min_delay=0.0, **options),
        )
        source_id = source.id
    crawled = Crawled(site.url(""))
    with Monitor(database, settings, listener=crawled) as monitor:
        monitor.run_once([source_id])
    return crawled


def test_a_crawl_stays_in_scope_and_depth_and_obeys_robots(
    database, settings: Settings, small_site: Site
) -> None:
    crawled = _crawl(database, settings, small_site, "/site/", path_prefix="/site/", max_depth=2)
    assert crawled.outcomes() == {
        "/site/": "fetched",
        "/site/a": "fetched",
        "/site/b": "fetched",
        "/site/private/p": "robots",
        "/site/c": "fetched",  # depth 2; /site/d at depth 3 is not followed
    }
    assert set(crawled.media) == {
        "/site/v.mp4",  # a link to a video file
        "/img/site.jpg",
        "/img/site-a.jpg",
        "/img/site-b.jpg",
        "/img/site-c.jpg",
    }
    assert all(m.outcome == "failed" and "404" in m.detail for m in crawled.media.values())


def test_page_limits_and_host_only_scope(database, settings: Settings, small_site: Site) -> None:
    limited = _crawl(database, settings, small_site, "/site/", max_depth=5, max_pages=3)
    assert len(limited.pages) == 3
    assert "/site/" in limited.pages
    everything = _crawl(database, settings, small_site, "/site/a", max_depth=5)
    assert "/outside/x" in everything.pages  # same host, no prefix
    assert not any("other.example" in url for url in everything.pages)


def test_a_reported_page_is_fetched_whatever_robots_says(
    database, settings: Settings, small_site: Site
) -> None:
    crawled = _crawl(database, settings, small_site, "/site/private/p", kind="reported")
    assert crawled.outcomes() == {"/site/private/p": "fetched"}
    assert list(crawled.media) == ["/img/site-private-p.jpg"]


def test_failures_are_reported_and_the_crawl_goes_on(
    database, settings: Settings, small_site: Site, trap: Site
) -> None:
    small_site.routes["/site/b"] = lambda h: send(
        h, 302, b"", "text/plain", {"Location": trap.url("/", host="127.0.0.1")}
    )
    try:
        crawled = _crawl(
            database, settings, small_site, "/site/", path_prefix="/site/", max_depth=1
        )
    finally:
        small_site.routes["/site/b"] = lambda h: send(h, 200, _page([], "b"), "text/html")
    failed = {path: v for path, v in crawled.pages.items() if v.outcome == "failed"}
    assert list(failed) == ["/site/b"]
    assert "loopback" in failed["/site/b"].detail
    assert trap.accepted == 0  # not one connection reached it
    assert crawled.pages["/site/a"].outcome == "fetched"


def test_a_cap_per_host_and_a_choice_of_media(
    database, settings: Settings, small_site: Site
) -> None:
    capped = _crawl(database, settings, small_site, "/site/", max_depth=5, max_per_host=3)
    assert len(capped.pages) == 3
    images_only = _crawl(database, settings, small_site, "/site/?i", max_depth=0, media="images")
    assert set(images_only.media) == {"/img/site.jpg"}  # the link to v.mp4 is left alone
    assert "/site/v.mp4" in capped.media
    videos_only = _crawl(database, settings, small_site, "/site/a", max_depth=0, media="videos")
    assert videos_only.media == {}
