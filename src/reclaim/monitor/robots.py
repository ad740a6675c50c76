"""robots.txt as RFC 9309 defines it (the standard library's parser predates it).

- The group for the crawler is every group whose ``user-agent`` names its product token
  (case-insensitive), merged; else the ``*`` groups, merged; else everything is allowed.
- Rules match the path and query from the start; ``*`` matches any run of characters and
  a final ``$`` anchors the end. The longest matching rule wins; ``allow`` wins a tie.
  Percent-encoded octets are compared decoded, so ``/%7Ejo`` and ``/~jo`` are one path.
- ``/robots.txt`` itself is always allowed. ``crawl-delay`` (common, not in the RFC) and
  ``sitemap`` lines are kept.
- How the fetch went decides too: a 4xx answer (but 429) means no rules; a 5xx, 429 or no
  answer means "disallow everything" until it can be read (the RFC's "unreachable").
- At most ``MAX_BYTES`` are parsed (the RFC asks for at least 500 KiB).

A reported URL (one page a survivor or a support worker named) is fetched whatever
robots.txt says: see the source kinds. Crawls obey it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

MAX_BYTES = 512 * 1024
MAX_CRAWL_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class Rule:
    allow: bool
    pattern: str

    def matches(self, path: str) -> bool:
        return wildcard_match(self.pattern, path)


@dataclass(frozen=True, slots=True)
class Robots:
    """The rules that apply to one crawler on one site."""

    rules: tuple[Rule, ...] = ()
    crawl_delay: float | None = None
    sitemaps: tuple[str, ...] = ()
    disallow_all: bool = False
    """The file could not be read (server error, no answer): nothing may be crawled."""

    @classmethod
    def unreachable(cls) -> Robots:
        return cls(disallow_all=True)

    def allowed(self, url: str) -> bool:
        """Whether the crawler may fetch ``url`` (of this site)."""
        parts = urlsplit(url)
        path = parts.path or "/"
        if path == "/robots.txt":
            return True
        if self.disallow_all:
            return False
        target = _normalised(path + (f"?{parts.query}" if parts.query else ""))
        best: Rule | None = None
        for rule in self.rules:
            if not rule.pattern or not rule.matches(target):
                continue
            if (
                best is None
                or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow and not best.allow)
            ):
                best = rule
        return best is None or best.allow


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    delay: float | None = None


def parse(text: str | bytes, agent: str) -> Robots:
    """The rules of ``text`` for the crawler whose product token is ``agent``."""
    if isinstance(text, bytes):
        text = text[:MAX_BYTES].decode("utf-8", errors="replace")
    else:
        text = text[:MAX_BYTES]
    token = agent.split("/")[0].strip().lower()
    groups: list[_Group] = []
    sitemaps: list[str] = []
    current: _Group | None = None
    in_agents = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            if current is None or not in_agents:
                current = _Group()
                groups.append(current)
            current.agents.append(value.lower())
            in_agents = True
            continue
        if key == "sitemap":
            if value:
                sitemaps.append(value)
            continue
        in_agents = False
        if current is None:
            continue  # rules before any user-agent line belong to no group
        if key in ("allow", "disallow"):
            current.rules.append(Rule(key == "allow", _normalised(value)))
        elif key == "crawl-delay":
            try:
                delay = float(value)
            except ValueError:
                continue
            if delay == delay and delay >= 0:  # not NaN
                current.delay = min(delay, MAX_CRAWL_DELAY)
    mine = [g for g in groups if any(a != "*" and a == token for a in g.agents)]
    if not mine:
        mine = [g for g in groups if "*" in g.agents]
    rules = tuple(rule for group in mine for rule in group.rules)
    delays = [g.delay for g in mine if g.delay is not None]
    return Robots(rules, max(delays) if delays else None, tuple(sitemaps))


def for_status(status: int, body: bytes, agent: str) -> Robots:
    """What a robots.txt fetch that ended with ``status`` allows."""
    if 200 <= status < 300:
        return parse(body, agent)
    if status == 429 or status >= 500:
        return Robots.unreachable()
    return Robots()  # 4xx: there are no rules


def _normalised(path: str) -> str:
    """Percent-encoded octets decoded (but ``%2F`` and ``%25``, which would change the path's
    meaning), so that both spellings of one path compare equal."""
    return re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: m.group(0).upper() if m.group(1).upper() in ("2F", "25") else unquote(m.group(0)),
        path,
    )


def wildcard_match(pattern: str, path: str) -> bool:
    """Whether ``pattern`` (``*`` any run, a final ``$`` the end) matches ``path`` from its
    start. Each literal piece is found leftmost, in order: linear, with none of the
    backtracking a regular expression of many ``*`` would do on a hostile file."""
    anchored = pattern.endswith("$")
    pieces = (pattern[:-1] if anchored else pattern).split("*")
    if not path.startswith(pieces[0]):
        return False
    at = len(pieces[0])
    if len(pieces) == 1:
        return at == len(path) if anchored else True
    for piece in pieces[1:-1]:
        found = path.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    last = pieces[-1]
    if anchored:
        return path.endswith(last) and len(path) - len(last) >= at
    return path.find(last, at) >= 0
