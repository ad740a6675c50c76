"""Links and media out of an HTML page, as absolute http(s) URLs.

The pages the monitor reads are hostile or merely broken: unclosed tags, several
``<base>`` elements, lazy-loading attributes instead of ``src``, Korean text in EUC-KR,
hundreds of thousands of links. This uses the standard library's tolerant HTML tokenizer,
keeps the first ``<base href>``, reads every place a picture or a video is named (``src``,
``srcset``, the usual lazy-loading attributes, ``<video>``/``<source>``, posters, Open
Graph and Twitter cards, ``<link rel=image_src>``, and plain links to media files), and
caps what one page may yield.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

MAX_LINKS = 5000
MAX_MEDIA = 2000
MAX_URL_LENGTH = 8192

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".avif", ".heic", ".jfif")
_VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".m4v", ".mkv", ".avi", ".3gp", ".ts", ".m3u8", ".mpd")
_LAZY = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-url", "data-full")
_LAZY_SETS = ("data-srcset", "data-lazy-srcset")
_META_MEDIA = {
    "og:image": "image",
    "og:image:url": "image",
    "og:image:secure_url": "image",
    "og:video": "video",
    "og:video:url": "video",
    "og:video:secure_url": "video",
    "twitter:image": "image",
    "twitter:image:src": "image",
    "twitter:player:stream": "video",
}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_ALIASES = {"euc-kr": "cp949", "ks_c_5601-1987": "cp949", "x-windows-949": "cp949"}
"""Korean pages labelled EUC-KR are usually CP949 (its superset), as browsers assume."""


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A picture or video a page names."""

    url: str
    kind: str
    """``image``, ``video``, or ``unknown`` (a ``<source>`` or link of no known type)."""
    via: str
    """Where it was named: ``img``, ``srcset``, ``lazy``, ``video``, ``poster``, ``meta``,
    ``link`` (a link to a media file) or ``image_src``."""


@dataclass
class Extracted:
    """What a page yields, each URL once, in page order."""

    links: list[str] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    title: str = ""
    truncated: bool = False
    """The page named more links or media than one page may yield (the rest were left)."""


def decode_page(body: bytes, content_type: str = "") -> str:
    """The page's text: the charset of the Content-Type, else of a ``<meta>`` in the first
    4 KB, else UTF-8 (undecodable bytes replaced)."""
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.I)
    declared = match.group(1) if match else None
    if declared is None:
        found = _CHARSET.search(body[:4096])
        declared = found.group(1).decode("ascii") if found else None
    if body.startswith(codecs.BOM_UTF8):
        declared = "utf-8"
    name = _ALIASES.get((declared or "utf-8").lower(), declared or "utf-8")
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    return body.decode(name, errors="replace")


def extract(body: bytes, url: str, content_type: str = "") -> Extracted:
    """Links and media of the HTML page ``body`` fetched from ``url``."""
    parser = _Parser(url)
    try:
        parser.feed(decode_page(body, content_type))
        parser.close()
    except AssertionError:  # the tokenizer's own checks on absurd markup: keep what was read
        parser.found.truncated = True
    return parser.found


def absolute(base: str, reference: str) -> str | None:
    """``reference`` resolved against ``base`` as an http(s) URL without its fragment, or
    None (other schemes, data: URLs, unparseable or absurdly long references)."""
    reference = reference.strip()
    if not reference or len(reference) > MAX_URL_LENGTH:
        return None
    try:
        joined = urljoin(base, reference)
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def srcset_urls(value: str) -> list[str]:
    """The URLs of a ``srcset`` (each candidate is a URL and an optional descriptor)."""
    out = []
    for candidate in value.split(","):
        words = candidate.strip().split()
        if words:
            out.append(words[0])
    return out


def _kind_of_path(url: str) -> str | None:
    path = urlsplit(url).path.lower()
    if path.endswith(_IMAGE_SUFFIXES):
        return "image"
    if path.endswith(_VIDEO_SUFFIXES):
        return "video"
    return None


class _Parser(HTMLParser):
    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = url
        self.found = Extracted()
        self._seen_links: set[str] = set()
        self._seen_media: set[str] = set()
        self._base_set = False
        self._in_title = False
        self._in_video = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        if tag == "base" and not self._base_set and "href" in values:
            resolved = absolute(self.base, values["href"])
            if resolved is not None:
                self.base, self._base_set = resolved, True
        elif tag == "title":
            self._in_title = True
        elif tag == "a" or tag == "area":
            self._link(values.get("href"))
        elif tag == "img":
            self._media(values.get("src"), "image", "img")
            for name in _LAZY:
                self._media(values.get(name), "image", "lazy")
            for name in ("srcset", *_LAZY_SETS):
                for item in srcset_urls(values.get(name, "")):
                    self._media(item, "image", "srcset")
        elif tag == "source":
            kind = "video" if self._in_video else "unknown"
            mime = values.get("type", "").lower()
            if mime.startswith(("image/", "video/")):
                kind = mime.split("/")[0]
            self._media(values.get("src"), kind, "video" if kind == "video" else "srcset")
            for item in srcset_urls(values.get("srcset", "")):
                self._media(item, "image" if kind == "unknown" else kind, "srcset")
        elif tag == "video":
            self._in_video = True
            self._media(values.get("src"), "video", "video")
            self._media(values.get("poster"), "image", "poster")
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or "").lower()
            if key in _META_MEDIA:
                self._media(values.get("content"), _META_MEDIA[key], "meta")
        elif tag == "link" and "image_src" in values.get("rel", "").lower().split():
            self._media(values.get("href"), "image", "image_src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "video":
            self._in_video = False

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self.found.title) < 500:
            self.found.title = (self.found.title + data)[:500]

    def _link(self, reference: str | None) -> None:
        if reference is None:
            return
        url = absolute(self.base, reference)
        if url is None or url in self._seen_links:
            return
        kind = _kind_of_path(url)
        if kind is not None:
            self._media(url, kind, "link")
        if len(self.found.links) >= MAX_LINKS:
            self.found.truncated = True
            return
        self._seen_links.add(url)
        self.found.links.append(url)

    def _media(self, reference: str | None, kind: str, via: str) -> None:
        if reference is None:
            return
        url = absolute(self.base, reference)
        if url is None or url in self._seen_media:
            return
        if len(self.found.media) >= MAX_MEDIA:
            self.found.truncated = True
            return
        self._seen_media.add(url)
        self.found.media.append(MediaRef(url, kind, via))
