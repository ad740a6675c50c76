"""Sitemaps and feeds: the URLs a site lists for crawlers and subscribers.

- **Sitemaps** (sitemaps.org): a ``<urlset>`` lists pages (with image and video
  extensions naming media), a ``<sitemapindex>`` lists more sitemaps; either may be
  gzipped. Plain-text sitemaps (one URL a line) are read too.
- **Feeds**: RSS 2.0 items (``link``, ``enclosure``, ``media:content``,
  ``media:thumbnail``) and Atom entries (``link`` with ``rel`` alternate or enclosure).

XML from the web is hostile: parsed with ``defusedxml`` (no entity expansion, no external
entities, no DTD tricks), decompressed with a bound, and every URL kept only if it is an
absolute http(s) URL. Each list is capped.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from reclaim.monitor.errors import DecodeFailed, TooLarge
from reclaim.monitor.extract import MediaRef, absolute

MAX_ENTRIES = 50_000
"""The sitemaps protocol's own limit of URLs per file."""
MAX_INFLATED = 50 * 1024 * 1024
"""The protocol's limit on an uncompressed sitemap (50 MB)."""


@dataclass
class Listing:
    """What a sitemap or feed lists, each URL once, in order."""

    pages: list[str] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    """More sitemaps (from a sitemap index)."""
    truncated: bool = False
    _seen: set[tuple[int, str]] = field(default_factory=set, repr=False)

    def _add(self, bucket: list[str], url: str | None, base: str) -> None:
        resolved = absolute(base, url or "")
        if resolved is None or (id(bucket), resolved) in self._seen:
            return
        if len(bucket) >= MAX_ENTRIES:
            self.truncated = True
            return
        self._seen.add((id(bucket), resolved))
        bucket.append(resolved)

    def _add_media(self, url: str | None, kind: str, base: str) -> None:
        resolved = absolute(base, url or "")
        if resolved is None or (0, resolved) in self._seen:
            return
        if len(self.media) >= MAX_ENTRIES:
            self.truncated = True
            return
        self._seen.add((0, resolved))
        self.media.append(MediaRef(resolved, kind, "feed"))


def inflated(body: bytes) -> bytes:
    """``body`` un-gzipped when it is gzip (a ``.xml.gz`` sitemap), at most ``MAX_INFLATED``."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    reader = gzip.GzipFile(fileobj=io.BytesIO(body))
    try:
        out = reader.read(MAX_INFLATED + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise DecodeFailed(f"corrupt gzip: {error}") from error
    if len(out) > MAX_INFLATED:
        raise TooLarge(f"the sitemap inflates beyond {MAX_INFLATED} bytes")
    return out


def parse_listing(body: bytes, url: str) -> Listing:
    """The pages, media and sitemaps listed by a sitemap, sitemap index, RSS or Atom feed
    (or a plain-text sitemap) fetched from ``url``."""
    data = inflated(body).lstrip()
    if not data.startswith(b"<"):
        return _text_sitemap(data, url)
    try:
        root = fromstring(data)
    except (ParseError, DefusedXmlException, ValueError) as error:
        raise DecodeFailed(f"not a readable sitemap or feed: {error}") from error
    listing = Listing()
    kind = _local(root.tag)
    if kind == "urlset":
        _urlset(root, url, listing)
    elif kind == "sitemapindex":
        for entry in _children(root, "sitemap"):
            listing._add(listing.sitemaps, _text(entry, "loc"), url)
    elif kind in ("rss", "RDF"):
        for item in root.iter():
            if _local(item.tag) == "item":
                _rss_item(item, url, listing)
    elif kind == "feed":
        for entry in _children(root, "entry"):
            _atom_entry(entry, url, listing)
    else:
        raise DecodeFailed(f"not a sitemap or feed: <{kind}>")
    return listing


def _text_sitemap(data: bytes, url: str) -> Listing:
    listing = Listing()
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            listing._add(listing.pages, line.strip(), url)
    return listing


def _urlset(root: Element, url: str, listing: Listing) -> None:
    for entry in _children(root, "url"):
        listing._add(listing.pages, _text(entry, "loc"), url)
        for child in entry:
            name = _local(child.tag)
            if name == "image":  # image:image/image:loc
                listing._add_media(_text(child, "loc"), "image", url)
            elif name == "video":  # video:video: content_loc, thumbnail_loc
                listing._add_media(_text(child, "content_loc"), "video", url)
                listing._add_media(_text(child, "thumbnail_loc"), "image", url)


def _rss_item(item: Element, url: str, listing: Listing) -> None:
    for child in item:
        name = _local(child.tag)
        if name == "link" and child.text:
            listing._add(listing.pages, child.text.strip(), url)
        elif name in ("enclosure", "content", "thumbnail"):  # media:content, media:thumbnail
            mime = (child.get("type") or child.get("medium") or "").lower()
            kind = "video" if mime.startswith("video") else "image"
            if name == "enclosure" and not mime.startswith(("image", "video")):
                continue
            listing._add_media(child.get("url"), kind, url)


def _atom_entry(entry: Element, url: str, listing: Listing) -> None:
    for child in entry:
        if _local(child.tag) != "link":
            continue
        rel = child.get("rel", "alternate")
        mime = (child.get("type") or "").lower()
        if rel == "alternate":
            listing._add(listing.pages, child.get("href"), url)
        elif rel == "enclosure" and mime.startswith(("image", "video")):
            listing._add_media(child.get("href"), mime.split("/")[0], url)


def _local(tag: object) -> str:
    """The tag's name without its namespace."""
    return str(tag).rsplit("}", 1)[-1]


def _children(parent: Element, name: str) -> list[Element]:
    return [child for child in parent if _local(child.tag) == name]


def _text(parent: Element, name: str) -> str | None:
    for child in parent:
        if _local(child.tag) == name and child.text:
            return child.text.strip()
    return None
