"""One visit of one crawl URL, and the scope that decides which links a crawl follows.

A visit asks robots.txt first (unless the source is a page someone reported), takes its
turn at the host through the :class:`~reclaim.monitor.politeness.HostGate`, fetches the
URL, and reads it in its role (:func:`reclaim.monitor.sources.read`). A link that answers
with a picture instead of a page is handed back as that picture. Failures are outcomes,
not exceptions: one bad page never stops a crawl. The frontier and the media belong to
:mod:`reclaim.monitor.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reclaim.monitor.errors import FetchFailed
from reclaim.monitor.extract import MediaRef
from reclaim.monitor.fetch import Fetched, Fetcher, Kind
from reclaim.monitor.politeness import Gate, RobotsCache
from reclaim.monitor.render import Renderer
from reclaim.monitor.sources import Found, Role, read


@dataclass(frozen=True, slots=True)
class Scope:
    """Which links a crawl follows."""

    start: str
    same_host: bool = True
    path_prefix: str | None = None
    """Only URLs whose path starts with this (default: anywhere on the host)."""
    max_depth: int = 2
    """Links followed from the start URL (0: the start URL only)."""
    max_pages: int = 100
    obey_robots: bool = True
    """False only for a page someone reported: that one page is fetched regardless."""

    def contains(self, url: str) -> bool:
        parts, start = urlsplit(url), urlsplit(self.start)
        if self.same_host and parts.netloc.lower() != start.netloc.lower():
            return False
        return self.path_prefix is None or (parts.path or "/").startswith(self.path_prefix)


@dataclass(frozen=True, slots=True)
class Visit:
    """What became of one URL."""

    url: str
    outcome: str
    """``fetched``, ``robots`` (disallowed), ``failed``, ``not-html`` or ``image`` (the
    URL answered with a picture, in ``body``)."""
    status: int | None = None
    detail: str = ""
    final_url: str | None = None
    address: str | None = None
    found: Found = field(default_factory=Found)
    body: bytes | None = None
    content_type: str = ""


_ROLE_ACCEPTS = {
    Role.PAGE: frozenset({Kind.PAGE, Kind.IMAGE}),
    Role.LISTING: frozenset({Kind.PAGE, Kind.OTHER}),  # gzipped sitemaps come as octets
    Role.CHANNEL: frozenset({Kind.PAGE}),
}


def visit(
    url: str,
    role: Role,
    *,
    fetcher: Fetcher,
    robots: RobotsCache | None,
    gate: Gate,
    delay: float = 0.0,
    renderer: Renderer | None = None,
) -> Visit:
    """Fetch and read ``url`` (``robots`` None: a reported page, robots.txt not asked),
    at least ``delay`` seconds (or the site's crawl-delay) after the last request there.
    With a ``renderer``, an HTML page is read as the browser shows it after JavaScript
    (and the pictures and videos it loaded are added); if rendering fails, the page's
    own HTML is read and the failure noted."""
    try:
        rules = robots.robots(url) if robots is not None else None
        if rules is not None and not rules.allowed(url):
            return Visit(url, "robots", detail="disallowed by robots.txt")
        crawl_delay = rules.crawl_delay if rules is not None else None
        with gate.turn(url, max(delay, crawl_delay or 0.0)):
            fetched = fetcher.get(url, accept=_ROLE_ACCEPTS[role])
    except FetchFailed as error:
        return Visit(url, "failed", detail=str(error))
    body = fetched.body or b""
    if fetched.status != 200:
        return _visited(url, fetched, "failed", detail=f"HTTP {fetched.status}")
    if fetched.kind is Kind.IMAGE:
        picture = Found(media=[MediaRef(fetched.final_url, "image", "link")])
        return _visited(url, fetched, "image", found=picture, body=body)
    if role is Role.PAGE and "html" not in fetched.content_type.lower() and fetched.content_type:
        return _visited(url, fetched, "not-html")
    if role is Role.PAGE and renderer is not None:
        try:
            with gate.turn(url, delay):
                rendered = renderer.render(fetched.final_url)
        except FetchFailed as error:
            found = read(role, body, fetched.final_url, fetched.content_type)
            return _visited(url, fetched, "fetched", detail=f"not rendered: {error}", found=found)
        found = read(role, rendered.html, rendered.final_url, "text/html; charset=utf-8")
        named = {ref.url for ref in found.media}
        found.media.extend(
            MediaRef(media_url, kind, "render")
            for media_url, kind in rendered.media
            if media_url not in named
        )
        return _visited(url, fetched, "fetched", found=found)
    try:
        found = read(role, body, fetched.final_url, fetched.content_type)
    except FetchFailed as error:  # a listing that would not decompress or parse
        return _visited(url, fetched, "failed", detail=str(error))
    return _visited(url, fetched, "fetched", found=found)


def _visited(
    url: str,
    fetched: Fetched,
    outcome: str,
    *,
    detail: str = "",
    found: Found | None = None,
    body: bytes | None = None,
) -> Visit:
    return Visit(
        url,
        outcome,
        fetched.status,
        detail,
        fetched.final_url,
        fetched.address,
        found or Found(),
        body,
        fetched.content_type,
    )
