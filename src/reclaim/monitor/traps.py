"""URL normalisation and crawler-trap rules for the frontier.

One URL is one frontier row only if equal URLs are written the same way: the scheme and
host in lower case, the host in its ASCII (punycode) form -- so a homograph such as a
Cyrillic ``аpple.com`` is a different host, never the same one --, no default port, no
fragment, and characters outside ASCII percent-encoded as UTF-8.

A trap is a site that makes up pages without end: a calendar with a "next month" link, a
path that repeats itself (``/a/b/a/b/...``), session tokens that grow URLs. The rules
here stop them without a list of sites: a length cap, a cap on path segments and on one
segment repeating, and a cap on how many links in a row lead from one URL to another of
the same *shape* (digits collapsed, query values ignored beyond their shape).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, urlsplit, urlunsplit

MAX_URL = 2048
MAX_SEGMENTS = 24
MAX_REPEATS = 3
"""One path segment may appear this many times in a path."""
DEFAULT_MAX_CHAIN = 50
"""Links in a row between URLs of the same shape (a "next month" or "next page" chain)."""

_DIGITS = re.compile(r"\d+")
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(url: str) -> str | None:
    """``url`` in its one canonical spelling, or None if it is not a usable http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if ":" in host:  # an IPv6 literal
        netloc = f"[{host}]"
    else:
        try:
            netloc = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    try:
        path = quote(parts.path or "/", safe=_SAFE_PATH)
        query = quote(parts.query, safe=_SAFE_QUERY + "=")
    except UnicodeEncodeError:  # lone surrogates: not text any server could have sent
        return None
    return urlunsplit((scheme, netloc, path, query, ""))


def url_key(url: str) -> str:
    """A fixed-width key for a URL (its SHA-256 in hex)."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def shape(url: str) -> str:
    """The URL with every run of digits collapsed and query values reduced to that shape:
    ``/cal/2026/11?day=3`` and ``/cal/2026/12?day=1`` have the same shape."""
    parts = urlsplit(url)
    query = "&".join(sorted(_DIGITS.sub("9", pair) for pair in parts.query.split("&") if pair))
    return f"{parts.netloc}{_DIGITS.sub('9', parts.path)}?{query}"


def trap_reason(url: str) -> str | None:
    """Why ``url`` (normalised) is not worth a crawl of its own, or None."""
    if len(url) > MAX_URL:
        return f"URL longer than {MAX_URL} characters"
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) > MAX_SEGMENTS:
        return f"more than {MAX_SEGMENTS} path segments"
    counts: dict[str, int] = {}
    for segment in segments:
        counts[segment] = counts.get(segment, 0) + 1
        if counts[segment] > MAX_REPEATS:
            return f"path segment {segment[:40]!r} repeated more than {MAX_REPEATS} times"
    return None


def chain_after(parent: str, parent_chain: int, link: str) -> int:
    """The chain length of ``link`` found on ``parent``: one more if they share a shape."""
    return parent_chain + 1 if shape(parent) == shape(link) else 0
