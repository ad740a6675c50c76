"""The kinds of place the monitor watches, in one registry, and how each URL is read.

A source is a start URL of one kind. Every URL of a crawl is read in one of three
**roles**: a ``page`` (HTML: links to follow and media it shows), a ``listing`` (a sitemap
or an RSS/Atom feed: pages and media it lists, and more sitemaps) or a ``channel`` (a
messaging channel's public preview: the media of its posts and the link to older posts).
A kind says which role its start URL has and what a source of that kind crawls by
default; adding a kind is one class in :data:`SOURCE_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from reclaim.monitor.extract import MediaRef, absolute, extract
from reclaim.monitor.feeds import parse_listing
from reclaim.monitor.telegram import parse_preview, preview_url


class Role(StrEnum):
    PAGE = "page"
    LISTING = "listing"
    CHANNEL = "channel"


@dataclass
class Found:
    """What one fetched URL yields: URLs to crawl next (with their roles) and media."""

    links: list[tuple[str, Role]] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    truncated: bool = False


def read(role: Role, body: bytes, url: str, content_type: str = "") -> Found:
    """What the body of ``url``, read in ``role``, links to and shows."""
    if role is Role.PAGE:
        page = extract(body, url, content_type)
        named = {ref.url for ref in page.media}  # a link to a video is media, not a page
        links = [(link, Role.PAGE) for link in page.links if link not in named]
        return Found(links, page.media, page.truncated)
    if role is Role.LISTING:
        listing = parse_listing(body, url)
        links = [(u, Role.LISTING) for u in listing.sitemaps] + [
            (u, Role.PAGE) for u in listing.pages
        ]
        return Found(links, listing.media, listing.truncated)
    channel = parse_preview(body, url)
    media = [ref for post in channel.posts for ref in post.media]
    return Found([(channel.older, Role.CHANNEL)] if channel.older else [], media)


@dataclass(frozen=True, slots=True)
class Defaults:
    """How a kind crawls unless the source says otherwise."""

    max_depth: int
    max_pages: int
    obey_robots: bool = True
    recrawl_hours: float = 24.0


class SourceKind:
    """One kind of source. Subclasses set the class attributes and may refine the URL."""

    name: ClassVar[str]
    description: ClassVar[str]
    start_role: ClassVar[Role]
    defaults: ClassVar[Defaults]
    needs_case: ClassVar[bool] = False

    def start_url(self, url: str) -> str:
        """The URL a crawl of ``url`` starts at; ``ValueError`` if it is not one."""
        resolved = absolute(url, url)
        if resolved is None:
            raise ValueError(f"not an http(s) URL: {url!r}")
        return resolved


class WebPages(SourceKind):
    name = "pages"
    description = "a web site: pages followed from the start page, within its scope"
    start_role = Role.PAGE
    defaults = Defaults(max_depth=2, max_pages=500)


class Sitemap(SourceKind):
    name = "sitemap"
    description = "a sitemap (or sitemap index): the pages and media it lists"
    start_role = Role.LISTING
    defaults = Defaults(max_depth=2, max_pages=1000)


class Feed(SourceKind):
    name = "feed"
    description = "an RSS or Atom feed: its entries' pages and enclosed media"
    start_role = Role.LISTING
    defaults = Defaults(max_depth=1, max_pages=200, recrawl_hours=6.0)


class TelegramChannel(SourceKind):
    name = "telegram"
    description = "a Telegram channel's public preview (t.me/s/<channel>) and older posts"
    start_role = Role.CHANNEL
    defaults = Defaults(max_depth=20, max_pages=50, recrawl_hours=6.0)

    def start_url(self, url: str) -> str:
        try:
            return preview_url(url)
        except ValueError:
            # A preview served elsewhere (the demo site, an archive): taken as it is.
            resolved = super().start_url(url)
            if "/s/" not in resolved:
                raise
            return resolved


class ReportedUrl(SourceKind):
    name = "reported"
    description = "one page reported in a case: fetched even where robots.txt says no"
    start_role = Role.PAGE
    defaults = Defaults(max_depth=0, max_pages=1, obey_robots=False, recrawl_hours=24.0)
    needs_case = True


SOURCE_KINDS: tuple[SourceKind, ...] = (
    WebPages(),
    Sitemap(),
    Feed(),
    TelegramChannel(),
    ReportedUrl(),
)


def source_kind(name: str) -> SourceKind:
    """The registered kind called ``name``; ``ValueError`` names the known ones."""
    for kind in SOURCE_KINDS:
        if kind.name == name:
            return kind
    known = ", ".join(k.name for k in SOURCE_KINDS)
    raise ValueError(f"unknown source kind {name!r} (known: {known})")
