"""Crawling a small site on loopback: scope, depth, page limits, robots, reported pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reclaim.monitor.crawl import MediaFound, PageVisit, Scope, crawl
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import parse_networks
from reclaim.monitor.politeness import HostGate, RobotsCache

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
Tools = tuple[Fetcher, RobotsCache, HostGate]


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
def tools() -> Iterator[Tools]:
    limits = FetchLimits(allow=parse_networks(f"{SITE_ADDRESS}/32"), retries=0)
    with Fetcher(limits) as fetcher:
        yield fetcher, RobotsCache(fetcher, limits.user_agent), HostGate(delay=0.0)


def _run(scope: Scope, tools: Tools) -> list[PageVisit | MediaFound]:
    return list(crawl(scope, *tools))


def _visits(events: list[PageVisit | MediaFound], base: str) -> dict[str, str]:
    return {e.url.removeprefix(base): e.outcome for e in events if isinstance(e, PageVisit)}


def test_a_crawl_stays_in_scope_and_depth_and_obeys_robots(small_site: Site, tools: Tools) -> None:
    base = small_site.url("")
    events = _run(Scope(small_site.url("/site/"), path_prefix="/site/", max_depth=2), tools)
    assert _visits(events, base) == {
        "/site/": "fetched",
        "/site/a": "fetched",
        "/site/b": "fetched",
        "/site/private/p": "robots",
        "/site/c": "fetched",  # depth 2; /site/d at depth 3 is not followed
    }
    media = [e for e in events if isinstance(e, MediaFound)]
    assert [m.media.url.removeprefix(base) for m in media] == [
        "/site/v.mp4",  # a link to a video file, named before the page's picture
        "/img/site.jpg",
        "/img/site-a.jpg",
        "/img/site-b.jpg",
        "/img/site-c.jpg",
    ]
    assert media[0].media.kind == "video"
    assert {m.page.removeprefix(base) for m in media} == {"/site/", "/site/a", "/site/b", "/site/c"}


def test_page_limits_and_host_only_scope(small_site: Site, tools: Tools) -> None:
    base = small_site.url("")
    events = _run(Scope(small_site.url("/site/"), max_depth=5, max_pages=3), tools)
    assert list(_visits(events, base)) == ["/site/", "/site/a", "/site/b"]
    everything = _visits(_run(Scope(small_site.url("/site/"), max_depth=5), tools), base)
    assert "/outside/x" in everything  # same host, no prefix
    assert not any("other.example" in url for url in everything)


def test_a_reported_page_is_fetched_whatever_robots_says(small_site: Site, tools: Tools) -> None:
    base = small_site.url("")
    scope = Scope(small_site.url("/site/private/p"), max_depth=0, obey_robots=False)
    events = _run(scope, tools)
    assert _visits(events, base) == {"/site/private/p": "fetched"}
    assert [e.media.url.removeprefix(base) for e in events if isinstance(e, MediaFound)] == [
        "/img/site-private-p.jpg"
    ]


def test_failures_are_reported_and_the_crawl_goes_on(
    small_site: Site, tools: Tools, trap: Site
) -> None:
    small_site.routes["/site/b"] = lambda h: send(
        h, 302, b"", "text/plain", {"Location": trap.url("/", host="127.0.0.1")}
    )
    try:
        events = _run(Scope(small_site.url("/site/"), path_prefix="/site/", max_depth=1), tools)
    finally:
        small_site.routes["/site/b"] = lambda h: send(h, 200, _page([], "b"), "text/html")
    visits = [e for e in events if isinstance(e, PageVisit)]
    failed = [v for v in visits if v.outcome == "failed"]
    assert [v.url.removeprefix(small_site.url("")) for v in failed] == ["/site/b"]
    assert "loopback" in failed[0].detail
    assert trap.hits == []
    assert any(v.outcome == "fetched" and v.url.endswith("/site/a") for v in visits)


def test_a_start_that_is_not_a_web_url_fails_clearly(tools: Tools) -> None:
    (visit,) = _run(Scope("file:///etc/passwd"), tools)
    assert isinstance(visit, PageVisit)
    assert (visit.outcome, visit.detail) == ("failed", "not an http(s) URL")
