"""HLS playlists and DASH manifests: parsing, choosing a rendition, bounds, refusals,
and a playlist that points at forbidden addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from reclaim.monitor.errors import TooLarge
from reclaim.monitor.streams import (
    MAX_SEGMENTS,
    Rendition,
    Segments,
    StreamRefused,
    assemble,
    choose,
    is_dash,
    is_hls,
    parse_dash,
    parse_hls,
)

BASE = "https://cdn.example/v/"

MASTER = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=426x240
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=854x480,CODECS="avc1.4d401f,mp4a.40.2"
mid/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1920x1080
https://other.example/hi.m3u8
"""

MEDIA = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.0,
seg1.m4s
#EXTINF:4.0,title
/abs/seg2.m4s
#EXTINF:bogus,
seg3.m4s
#EXT-X-ENDLIST
"""


def test_a_master_playlist_lists_renditions_and_the_smallest_tall_one_is_chosen() -> None:
    renditions = parse_hls(MASTER, BASE + "master.m3u8")
    assert isinstance(renditions, list)
    assert [(r.url, r.height) for r in renditions] == [
        (BASE + "low/index.m3u8", 240),
        (BASE + "mid/index.m3u8", 480),
        ("https://other.example/hi.m3u8", 1080),
    ]
    assert choose(renditions).height == 480
    assert choose([Rendition("a", 1, 144), Rendition("b", 2, 240)]).url == "b"


def test_a_media_playlist_lists_its_segments_after_the_init() -> None:
    segments = parse_hls(MEDIA, BASE + "mid/index.m3u8")
    assert isinstance(segments, Segments)
    assert segments.init == BASE + "mid/init.mp4"
    assert segments.media == [
        BASE + "mid/seg1.m4s",
        "https://cdn.example/abs/seg2.m4s",
        BASE + "mid/seg3.m4s",
    ]
    assert segments.durations == [4.0, 4.0, 0.0]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:2,\ns.ts\n', "encrypted"),
        ("#EXTM3U\n#EXT-X-ENDLIST\n", "no segments"),
        ("<html>not a playlist</html>", "not an HLS"),
        ("", "not an HLS"),
    ],
)
def test_playlists_that_give_nothing_to_hash_are_refused(text: str, reason: str) -> None:
    with pytest.raises(StreamRefused, match=reason):
        parse_hls(text, BASE + "x.m3u8")


DASH_TEMPLATE = b"""<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT0H0M10.5S">
  <Period>
    <AdaptationSet contentType="audio"><Representation id="a" bandwidth="64000"/></AdaptationSet>
    <AdaptationSet mimeType="video/mp4">
      <SegmentTemplate initialization="$RepresentationID$/init.mp4"
                       media="$RepresentationID$/seg-$Number%05d$.m4s"
                       startNumber="1" duration="4000" timescale="1000"/>
      <Representation id="v360" bandwidth="500000" height="360"/>
      <Representation id="v720" bandwidth="2000000" height="720"/>
    </AdaptationSet>
  </Period>
</MPD>"""


def test_dash_segment_templates_are_expanded() -> None:
    segments = parse_dash(DASH_TEMPLATE, BASE + "manifest.mpd")
    assert segments.init == BASE + "v360/init.mp4"
    assert segments.media == [BASE + f"v360/seg-0000{n}.m4s" for n in (1, 2, 3)]


def test_dash_timelines_lists_and_single_files() -> None:
    timeline = b"""<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period><AdaptationSet
        contentType="video"><Representation id="v" height="480" bandwidth="1">
        <SegmentTemplate media="t/$Time$.m4s" initialization="t/init.mp4" timescale="10">
        <SegmentTimeline><S t="100" d="20" r="2"/><S d="10"/></SegmentTimeline>
        </SegmentTemplate></Representation></AdaptationSet></Period></MPD>"""
    segments = parse_dash(timeline, BASE + "m.mpd")
    assert segments.media == [BASE + f"t/{t}.m4s" for t in (100, 120, 140, 160)]
    assert segments.durations == [2.0, 2.0, 2.0, 1.0]
    listed = b"""<MPD><Period><AdaptationSet mimeType="video/mp4"><Representation id="v">
        <SegmentList duration="2"><Initialization sourceURL="i.mp4"/>
        <SegmentURL media="a.m4s"/><SegmentURL media="b.m4s"/></SegmentList>
        </Representation></AdaptationSet></Period></MPD>"""
    assert parse_dash(listed, BASE + "m.mpd").media == [BASE + "a.m4s", BASE + "b.m4s"]
    single = b"""<MPD><BaseURL>https://cdn2.example/</BaseURL><Period><AdaptationSet
        mimeType="video/mp4"><Representation id="v"><BaseURL>whole.mp4</BaseURL>
        </Representation></AdaptationSet></Period></MPD>"""
    assert parse_dash(single, BASE + "m.mpd").media == ["https://cdn2.example/whole.mp4"]


@pytest.mark.parametrize(
    "body",
    [
        b"<MPD><Period><AdaptationSet contentType='video'><ContentProtection/>"
        b"<Representation id='v'/></AdaptationSet></Period></MPD>",
        b"<MPD><Period><AdaptationSet contentType='audio'/></Period></MPD>",
        b"<html/>",
        b"<MPD><Period",
        b'<!DOCTYPE MPD [<!ENTITY a "aaaa">]><MPD>&a;</MPD>',
    ],
)
def test_dash_manifests_that_give_nothing_are_refused(body: bytes) -> None:
    with pytest.raises(StreamRefused):
        parse_dash(body, BASE + "m.mpd")


def test_sniffing() -> None:
    assert is_hls(b"\xef\xbb\xbf#EXTM3U\n")
    assert not is_hls(b"\x00\x00\x00\x18ftypmp42")
    assert is_dash(b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">')
    assert not is_dash(b"<html><body>MPD</body></html>")


def test_assembling_is_bounded(tmp_path: Path) -> None:
    many = "#EXTM3U\n" + "".join(f"#EXTINF:1,\ns{n}.ts\n" for n in range(500))
    asked: list[str] = []

    def download(url: str, target: Path) -> int:
        asked.append(url)
        target.write_bytes(b"x" * 10)
        return 10

    def no_text(url: str) -> bytes:
        raise AssertionError("a media playlist needs no second fetch")

    count = assemble(
        many.encode(),
        BASE + "p.m3u8",
        tmp_path / "v",
        download,
        max_bytes=10_000,
        fetch_text=no_text,
    )
    assert count == MAX_SEGMENTS == len(asked)
    assert (tmp_path / "v").stat().st_size == 10 * MAX_SEGMENTS
    with pytest.raises(TooLarge):
        assemble(
            many.encode(),
            BASE + "p.m3u8",
            tmp_path / "w",
            download,
            max_bytes=95,
            fetch_text=no_text,
        )
