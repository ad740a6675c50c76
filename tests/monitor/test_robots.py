"""robots.txt by RFC 9309: groups, wildcards, longest match, fetch outcomes, hostile files."""

from __future__ import annotations

import pytest

from reclaim.monitor.robots import MAX_CRAWL_DELAY, Robots, for_status, parse, wildcard_match

AGENT = "Reclaim-monitor/0.1 (finds and reports non-consensual intimate imagery)"

TEXT = """
# comments and blank lines are ignored

User-agent: *
Disallow: /private/
Allow: /private/public-notice.html
Crawl-delay: 2

User-agent: reclaim-monitor
User-agent: otherbot
Disallow: /members/
Allow: /members/gallery/
Disallow: /*.php$
Disallow: /search?q=*
Crawl-delay: 5

user-agent: RECLAIM-MONITOR
disallow: /ko/%7Eadmin/

Sitemap: https://board.example/sitemap.xml
"""


@pytest.fixture(scope="module")
def robots() -> Robots:
    return parse(TEXT, AGENT)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/", True),
        ("/private/x.jpg", True),  # only the * group forbids it, and ours applies instead
        ("/members/", False),
        ("/members/list", False),
        ("/members/gallery/1.jpg", True),  # longer allow wins
        ("/view.php", False),
        ("/view.php?id=3", True),  # $ anchors the end: a query follows
        ("/search?q=leak", False),
        ("/search", True),
        ("/ko/~admin/", False),  # percent-encoding compared decoded
        ("/ko/%7eadmin/x", False),
        ("/robots.txt", True),
    ],
)
def test_the_crawlers_group_decides(robots: Robots, path: str, allowed: bool) -> None:
    assert robots.allowed(f"https://board.example{path}") is allowed


def test_groups_for_the_crawler_merge_and_keep_the_slowest_delay(robots: Robots) -> None:
    assert robots.crawl_delay == 5
    assert robots.sitemaps == ("https://board.example/sitemap.xml",)


def test_the_star_group_applies_when_no_group_names_the_crawler() -> None:
    robots = parse(TEXT, "someone-else/1.0")
    assert not robots.allowed("https://board.example/private/x")
    assert robots.allowed("https://board.example/private/public-notice.html")
    assert robots.allowed("https://board.example/members/")
    assert robots.crawl_delay == 2


def test_allow_wins_a_tie() -> None:
    robots = parse("User-agent: *\nDisallow: /page\nAllow: /page\n", AGENT)
    assert robots.allowed("https://x.example/page")


def test_empty_disallow_and_no_file_allow_everything() -> None:
    assert parse("User-agent: *\nDisallow:\n", AGENT).allowed("https://x.example/a")
    assert parse("", AGENT).allowed("https://x.example/a")


@pytest.mark.parametrize(
    ("status", "allowed"), [(200, False), (404, True), (410, True), (429, False), (503, False)]
)
def test_the_fetch_outcome_decides_too(status: int, allowed: bool) -> None:
    body = b"User-agent: *\nDisallow: /\n"
    robots = for_status(status, body, AGENT)
    assert robots.allowed("https://x.example/page") is allowed
    assert robots.allowed("https://x.example/robots.txt")


def test_unreachable_robots_disallow_everything() -> None:
    assert not Robots.unreachable().allowed("https://x.example/")


def test_crawl_delays_are_capped_and_nonsense_ignored() -> None:
    text = "User-agent: *\nCrawl-delay: 100000\n"
    assert parse(text, AGENT).crawl_delay == MAX_CRAWL_DELAY
    assert parse("User-agent: *\nCrawl-delay: soon\n", AGENT).crawl_delay is None
    assert parse("User-agent: *\nCrawl-delay: nan\n", AGENT).crawl_delay is None


def test_hostile_files_are_bounded() -> None:
    huge = ("User-agent: *\n" + "Disallow: /x\n" * 200_000).encode()
    robots = parse(huge, AGENT)
    assert len(robots.rules) < 200_000  # only the first MAX_BYTES were read
    # Many wildcards against a long path: no backtracking blow-up.
    evil = parse("User-agent: *\nDisallow: /" + "a*" * 2000 + "b\n", AGENT)
    assert evil.allowed("https://x.example/" + "a" * 50_000)
    assert parse(b"\xff\xfe\x00garbage:\x00\n", AGENT).allowed("https://x.example/")


@pytest.mark.parametrize(
    ("pattern", "path", "matched"),
    [
        ("/a", "/abc", True),
        ("/a$", "/a", True),
        ("/a$", "/ab", False),
        ("/*.jpg$", "/x/y.jpg", True),
        ("/*.jpg$", "/x/y.jpg?x=1", False),
        ("/a*b*c", "/aXbYc", True),
        ("/a*b*c", "/aXcYb", False),
        ("*", "/anything", True),
        ("/ab*ab$", "/ab", False),
    ],
)
def test_wildcards(pattern: str, path: str, matched: bool) -> None:
    assert wildcard_match(pattern, path) is matched
