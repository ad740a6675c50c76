"""Links and media out of real-world (broken, Korean, hostile) HTML."""

from __future__ import annotations

import pytest

from reclaim.monitor.extract import (
    MAX_LINKS,
    MAX_MEDIA,
    absolute,
    decode_page,
    extract,
    srcset_urls,
)

PAGE = """<!doctype html>
<html><head>
<meta charset="euc-kr">
<title>유출 게시판 &amp; 자료</title>
<base href="https://board.example/ko/">
<base href="https://ignored.example/">
<meta property="og:image" content="/thumbs/og.jpg">
<meta name="twitter:image" content="https://cdn.example/tw.png">
<meta property="og:video" content="https://cdn.example/v/clip.mp4">
<link rel="image_src" href="share.jpg">
</head><body>
<a href="view.php?id=1&amp;page=2#comments">글 1</a>
<a href="view.php?id=1&amp;page=2">same post, no fragment</a>
<a href="javascript:alert(1)">js</a>
<a href="mailto:a@b.c">mail</a>
<a href="//other.example/path">protocol-relative</a>
<a href="  /spaced  ">spaces</a>
<a href="files/leak.MP4">video file</a>
<img src="a.jpg" srcset="a-480.jpg 480w, a-960.jpg 960w">
<img data-src="lazy.webp" src="data:image/gif;base64,R0lGOD">
<img data-original="lazy2.jpg">
<picture><source srcset="p.avif" type="image/avif"><img src="p.jpg"></picture>
<video poster="poster.jpg" src="clip.webm"><source src="clip.mp4" type="video/mp4">
<source src="clip-hd"></video>
<div><p>unclosed <b>tags <img src="after-broken.jpg">
</body></html>
"""


def test_everything_a_page_names_is_found_once_and_absolute() -> None:
    found = extract(PAGE.encode("cp949"), "https://board.example/ko/list.php?page=3")
    assert found.title == "유출 게시판 & 자료"
    assert found.links == [
        "https://board.example/ko/view.php?id=1&page=2",
        "https://other.example/path",
        "https://board.example/spaced",
        "https://board.example/ko/files/leak.MP4",
    ]
    media = {(m.url.removeprefix("https://board.example/ko/"), m.kind, m.via) for m in found.media}
    assert media == {
        ("https://board.example/thumbs/og.jpg", "image", "meta"),
        ("https://cdn.example/tw.png", "image", "meta"),
        ("https://cdn.example/v/clip.mp4", "video", "meta"),
        ("share.jpg", "image", "image_src"),
        ("files/leak.MP4", "video", "link"),
        ("a.jpg", "image", "img"),
        ("a-480.jpg", "image", "srcset"),
        ("a-960.jpg", "image", "srcset"),
        ("lazy.webp", "image", "lazy"),
        ("lazy2.jpg", "image", "lazy"),
        ("p.avif", "image", "srcset"),
        ("p.jpg", "image", "img"),
        ("poster.jpg", "image", "poster"),
        ("clip.webm", "video", "video"),
        ("clip.mp4", "video", "video"),
        ("clip-hd", "video", "video"),
        ("after-broken.jpg", "image", "img"),
    }
    assert not found.truncated


def test_charsets_from_the_header_the_meta_or_utf8() -> None:
    korean = "<p>피해자 지원</p>"
    assert decode_page(korean.encode("cp949"), "text/html; charset=EUC-KR") == korean
    assert decode_page(("<meta charset='euc-kr'>" + korean).encode("cp949")).endswith(korean)
    assert decode_page(korean.encode()) == korean
    assert decode_page(korean.encode(), "text/html; charset=no-such-codec") == korean
    assert "\ufffd" in decode_page(b"\xff\xfe broken", "text/html; charset=utf-8")


def test_a_page_cannot_yield_without_bound() -> None:
    links = "".join(f'<a href="/p{i}">x</a>' for i in range(MAX_LINKS + 10))
    images = "".join(f'<img src="/i{i}.jpg">' for i in range(MAX_MEDIA + 10))
    found = extract((links + images).encode(), "http://site.example/")
    assert len(found.links) == MAX_LINKS
    assert len(found.media) == MAX_MEDIA
    assert found.truncated


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00" * 1000,
        b"<" * 10000,
        b"<a href='" + b"x" * 100_000,
        b"<![CDATA[" + b"]" * 1000,
        b'<img src="http://[::1">',
        b"<a href='http://exa mple.com:99999999/'>",
        "<a href='http://\u0000/'>".encode(),
    ],
)
def test_garbage_yields_nothing_harmful(garbage: bytes) -> None:
    found = extract(garbage, "http://site.example/")
    for url in [*found.links, *(m.url for m in found.media)]:
        assert url.startswith(("http://", "https://"))


def test_only_http_urls_come_out() -> None:
    assert absolute("https://a.example/x/", "../y.jpg") == "https://a.example/y.jpg"
    assert absolute("https://a.example/", "ftp://b.example/z") is None
    assert absolute("https://a.example/", "data:image/png;base64,AAAA") is None
    assert absolute("https://a.example/", "javascript:void(0)") is None
    assert absolute("https://a.example/", "x" * 10_000) is None
    assert absolute("https://a.example/", "") is None


def test_srcset_candidates() -> None:
    assert srcset_urls(" a.jpg 1x, b.jpg 2x ,c.jpg") == ["a.jpg", "b.jpg", "c.jpg"]
    assert srcset_urls("") == []
