"""URL normalisation and the trap rules of the frontier."""

from __future__ import annotations

import pytest

from reclaim.monitor.traps import (
    DEFAULT_MAX_CHAIN,
    MAX_URL,
    chain_after,
    normalise,
    shape,
    trap_reason,
    url_key,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a#frag", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x?b=2&a=1", "https://example.com:8443/x?b=2&a=1"),
        (
            "http://example.com/게시판?q=한글",
            "http://example.com/%EA%B2%8C%EC%8B%9C%ED%8C%90?q=%ED%95%9C%EA%B8%80",
        ),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://example.com/%7Euser/%zz", "http://example.com/%7Euser/%zz"),  # kept as sent
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
    ],
)
def test_urls_are_written_one_way(url: str, expected: str) -> None:
    assert normalise(url) == expected
    assert normalise(expected) == expected  # and that way is stable


def test_a_homograph_is_another_host() -> None:
    latin, cyrillic = normalise("http://apple.com/"), normalise("http://аpple.com/")
    assert cyrillic == "http://xn--pple-43d.com/"
    assert latin != cyrillic
    assert url_key(latin or "") != url_key(cyrillic or "")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://user:pass@example.com/",
        "http://example.com:99999/",
        "http:///no-host",
        "http://a.example/\udcff",  # a lone surrogate: not text any server sent
        "http://" + "a" * 64 + ".example/",  # a DNS label of more than 63 characters
    ],
)
def test_unusable_urls_are_refused(url: str) -> None:
    assert normalise(url) is None


def test_trap_rules() -> None:
    assert trap_reason("http://example.com/a/b/c") is None
    assert "longer" in (trap_reason("http://example.com/" + "a" * MAX_URL) or "")
    deep = "http://example.com" + "".join(f"/{n}" for n in range(30))
    assert "segments" in (trap_reason(deep) or "")
    assert "repeated" in (trap_reason("http://example.com/a/b/a/b/a/b/a/b") or "")
    assert trap_reason("http://example.com/a/b/a/b/a/b") is None  # three times is a path


def test_calendars_and_endless_pagination_share_a_shape() -> None:
    assert shape("http://h/cal/2026/11?day=3") == shape("http://h/cal/2027/1?day=14")
    assert shape("http://h/board?page=2") == shape("http://h/board?page=3")
    assert shape("http://h/board?page=2") != shape("http://h/thread/2")
    chain = 0
    url = "http://h/cal/2026/1"
    for month in range(2, 2 + DEFAULT_MAX_CHAIN + 5):
        following = f"http://h/cal/{2026 + month // 12}/{month % 12 + 1}"
        chain = chain_after(url, chain, following)
        url = following
    assert chain > DEFAULT_MAX_CHAIN
    assert chain_after("http://h/board?page=9", 40, "http://h/thread/12") == 0
