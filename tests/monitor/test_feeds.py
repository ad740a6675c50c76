"""Sitemaps and feeds: what they list, and what hostile XML cannot do."""

from __future__ import annotations

import gzip

import pytest

from reclaim.monitor.errors import DecodeFailed, TooLarge
from reclaim.monitor.feeds import MAX_ENTRIES, MAX_INFLATED, parse_listing

BASE = "https://board.example/sitemap.xml"

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"
        xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">
  <url><loc>https://board.example/post/1</loc>
    <image:image><image:loc>https://cdn.example/1.jpg</image:loc></image:image>
  </url>
  <url><loc> https://board.example/post/2 </loc>
    <video:video>
      <video:thumbnail_loc>https://cdn.example/2-thumb.jpg</video:thumbnail_loc>
      <video:content_loc>https://cdn.example/2.mp4</video:content_loc>
    </video:video>
  </url>
  <url><loc>https://board.example/post/1</loc></url>
  <url><loc>javascript:alert(1)</loc></url>
</urlset>"""


def test_a_sitemap_lists_pages_and_their_media() -> None:
    listing = parse_listing(URLSET, BASE)
    assert listing.pages == ["https://board.example/post/1", "https://board.example/post/2"]
    assert [(m.url, m.kind) for m in listing.media] == [
        ("https://cdn.example/1.jpg", "image"),
        ("https://cdn.example/2.mp4", "video"),
        ("https://cdn.example/2-thumb.jpg", "image"),
    ]


def test_a_gzipped_sitemap_index_lists_more_sitemaps() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://board.example/s1.xml.gz</loc></sitemap>
      <sitemap><loc>/s2.xml</loc></sitemap></sitemapindex>"""
    listing = parse_listing(gzip.compress(index), BASE)
    assert listing.sitemaps == ["https://board.example/s1.xml.gz", "https://board.example/s2.xml"]


def test_a_text_sitemap() -> None:
    listing = parse_listing(b"https://a.example/1\n\nhttps://a.example/2\nftp://x/\n", BASE)
    assert listing.pages == ["https://a.example/1", "https://a.example/2"]


def test_rss_items_and_their_media() -> None:
    rss = """<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
      <title>새 글</title>
      <item><title>글</title><link>https://board.example/p/9</link>
        <enclosure url="https://cdn.example/9.mp4" type="video/mp4" length="1"/>
        <enclosure url="https://cdn.example/9.zip" type="application/zip" length="1"/>
        <media:thumbnail url="https://cdn.example/9.jpg"/>
        <media:content url="https://cdn.example/9b.webm" medium="video"/>
      </item></channel></rss>""".encode()
    listing = parse_listing(rss, "https://board.example/rss")
    assert listing.pages == ["https://board.example/p/9"]
    assert [(m.url, m.kind) for m in listing.media] == [
        ("https://cdn.example/9.mp4", "video"),
        ("https://cdn.example/9.jpg", "image"),
        ("https://cdn.example/9b.webm", "video"),
    ]


def test_atom_entries() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry>
      <link href="/p/3"/><link rel="enclosure" type="image/png" href="https://cdn.example/3.png"/>
      <link rel="edit" href="/edit/3"/></entry></feed>"""
    listing = parse_listing(atom, "https://board.example/atom")
    assert listing.pages == ["https://board.example/p/3"]
    assert [(m.url, m.kind) for m in listing.media] == [("https://cdn.example/3.png", "image")]


@pytest.mark.parametrize(
    "hostile",
    [
        b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
        <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
        <urlset><url><loc>&lol2;</loc></url></urlset>""",
        b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
        <urlset><url><loc>&xxe;</loc></url></urlset>""",
        b"<urlset><url><loc>https://a.example/</loc>",  # truncated
        b"<html><body>not a sitemap</body></html>",
        b"\x1f\x8b\x08\x00corrupt gzip",
        b"<" + b"a" * 1000,
    ],
)
def test_hostile_xml_is_refused(hostile: bytes) -> None:
    with pytest.raises(DecodeFailed):
        parse_listing(hostile, BASE)


def test_a_gzip_bomb_stops_at_the_protocol_limit() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (MAX_INFLATED + 10))
    with pytest.raises(TooLarge):
        parse_listing(bomb, BASE)


def test_listings_are_capped() -> None:
    entries = "".join(
        f"<url><loc>https://a.example/{i}</loc></url>" for i in range(MAX_ENTRIES + 5)
    )
    listing = parse_listing(f"<urlset>{entries}</urlset>".encode(), BASE)
    assert len(listing.pages) == MAX_ENTRIES
    assert listing.truncated
