"""One crawl of one source: pages in scope, breadth first, and the media they name.

A crawl starts at a URL and follows links that stay in its :class:`Scope` (the same host,
under a path prefix, up to a depth and a number of pages), asking robots.txt first unless
the source is a page someone reported, and taking turns at each host through the
:class:`~reclaim.monitor.politeness.HostGate`. It reports what happened to every page it
tried (fetched, skipped and why, failed and why) and every picture or video the pages
name, each once; fetching, hashing and matching those is the next step's work.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from reclaim.monitor.errors import FetchFailed
from reclaim.monitor.extract import MediaRef, absolute, extract
from reclaim.monitor.fetch import Fetcher, Kind
from reclaim.monitor.politeness import HostGate, RobotsCache


@dataclass(frozen=True, slots=True)
class Scope:
    """Which links a crawl follows."""

    start: str
    same_host: bool = True
    path_prefix: str | None = None
    """Only URLs whose path starts with this (default: anywhere on the host)."""
    max_depth: int = 2
    """Links followed from the start page (0: the start page only)."""
    max_pages: int = 100
    obey_robots: bool = True
    """False only for a page someone reported: that one page is fetched regardless."""

    def contains(self, url: str) -> bool:
        parts, start = urlsplit(url), urlsplit(self.start)
        if self.same_host and parts.netloc.lower() != start.netloc.lower():
            return False
        return self.path_prefix is None or (parts.path or "/").startswith(self.path_prefix)


@dataclass(frozen=True, slots=True)
class PageVisit:
    """What became of one page."""

    url: str
    depth: int
    outcome: str
    """``fetched``, ``robots`` (disallowed), ``failed`` or ``not-html``."""
    status: int | None = None
    detail: str = ""
    final_url: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class MediaFound:
    """A picture or video a fetched page names."""

    media: MediaRef
    page: str
    depth: int


Event = PageVisit | MediaFound


def crawl(scope: Scope, fetcher: Fetcher, robots: RobotsCache, gate: HostGate) -> Iterator[Event]:
    """Crawl ``scope``, yielding each page's visit and then the media it names."""
    start = absolute(scope.start, scope.start)
    if start is None:
        yield PageVisit(scope.start, 0, "failed", detail="not an http(s) URL")
        return
    frontier: deque[tuple[str, int]] = deque([(start, 0)])
    queued = {start}
    seen_media: set[str] = set()
    pages = 0
    while frontier and pages < scope.max_pages:
        url, depth = frontier.popleft()
        pages += 1
        try:
            rules = robots.robots(url) if scope.obey_robots else None
            if rules is not None and not rules.allowed(url):
                yield PageVisit(url, depth, "robots", detail="disallowed by robots.txt")
                continue
            with gate.turn(url, rules.crawl_delay if rules is not None else None):
                fetched = fetcher.get(url, accept={Kind.PAGE})
        except FetchFailed as error:
            yield PageVisit(url, depth, "failed", detail=str(error))
            continue
        html = "html" in fetched.content_type.lower() or not fetched.content_type
        outcome = "fetched" if html else "not-html"
        yield PageVisit(
            url,
            depth,
            outcome,
            fetched.status,
            final_url=fetched.final_url,
            address=fetched.address,
        )
        if fetched.status != 200 or not html or fetched.body is None:
            continue
        found = extract(fetched.body, fetched.final_url, fetched.content_type)
        for media in found.media:
            if media.url not in seen_media:
                seen_media.add(media.url)
                yield MediaFound(media, fetched.final_url, depth)
        if depth >= scope.max_depth:
            continue
        for link in found.links:
            if link not in queued and link not in seen_media and scope.contains(link):
                queued.add(link)
                frontier.append((link, depth + 1))
