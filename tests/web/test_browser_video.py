"""vPDQ in the survivor's browser (static/hashing/video.js, through page.js) against the
server's vPDQ of the same file.

The browser decodes with its own decoder and reads each sampled frame after a seek, the
server decodes with PyAV; the two must pick the same frames (same count, same times) and
hash them to within a few bits (the decoders' colour conversion differs by a level or two).
What matters is the end: a browser's signal, registered through the portal's code into a
case, is found by the server's matcher for the same video and for a re-encoded copy. The
tests serve the static files and a harness page (tests/web/pages/video.html) from
127.0.0.1 under the portal's own Content-Security-Policy and drive Debian's Chromium.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.cases.access import Access
from reclaim.config import Settings
from reclaim.demo.media import make_video, render_scene, scene_frame
from reclaim.signals.base import hamming
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.signals.vpdq import VpdqSignal, VpdqSignalType
from reclaim.survivor.registration import consents_from, parse_files, register
from reclaim.web.portal.security import CSP

from ..monitor.conftest import require_chromium
from .test_browser_hashing import BROWSER_ARGS, PAGES, STATIC, _handler


def _serve(roots: dict[str, Path]) -> ThreadingHTTPServer:
    # The portal's own policy: videos play from blob: URLs.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(roots, CSP))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Browser:
    page: Any
    errors: list[str]

    def hash(self, paths: list[Path], **options: Any) -> dict[str, Any]:
        """The files through page.js: {outcomes, progress, ms, longestStallMs}."""
        self.page.set_input_files("#files", [str(path) for path in paths])
        result: dict[str, Any] = self.page.evaluate(
            "(options) => globalThis.videoHarness.hashChosen(options)", options
        )
        return result

    def can_play(self, mime: str) -> bool:
        return bool(self.page.evaluate("(t) => globalThis.videoHarness.canPlay(t)", mime))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    from reclaim.monitor.render import CHROMIUM

    server = _serve({"static": STATIC, "pages": PAGES})
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            tab = chromium.new_page()
            tab.set_default_timeout(240_000)
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.goto(f"http://127.0.0.1:{server.server_address[1]}/pages/video.html")
            tab.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
            yield Browser(tab, errors)
            chromium.close()
    finally:
        server.shutdown()
        server.server_close()
    assert not errors, f"the page reported errors: {errors}"


def _encode(
    path: Path,
    *,
    rate: Fraction,
    seconds: float,
    width: int = 640,
    height: int = 360,
    tags: str | None = None,
    seed: int = 5,
) -> Path:
    """The demo's moving scene (a sideways pan, turned upside down every other 30 frames)
    in H.264 at any frame rate, 29.97 included: each frame's time is its index / rate.
    ``tags``: x264's colour description (phones tag theirs BT.709)."""
    base = render_scene(width, height, seed)
    options = {"preset": "veryfast", "sc_threshold": "0"}
    if tags:
        options["x264-params"] = tags
    with av.open(str(path), mode="w") as container:
        stream: Any = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = 1 / rate
        stream.codec_context.gop_size = round(2 * rate)
        stream.codec_context.options = options
        for index in range(round(seconds * rate)):
            pixels = np.ascontiguousarray(scene_frame(base, index, 30))
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _reencode(source: Path, path: Path, *, scale: float, crf: int) -> Path:
    """A re-upload: decoded and encoded again, smaller and at a lower bitrate."""
    with av.open(str(source)) as inp, av.open(str(path), mode="w") as out:
        src = inp.streams.video[0]
        width = round(src.codec_context.width * scale / 2) * 2
        height = round(src.codec_context.height * scale / 2) * 2
        stream: Any = out.add_stream("libx264", rate=src.average_rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = src.time_base
        stream.codec_context.options = {"preset": "veryfast", "crf": str(crf)}
        for frame in inp.decode(src):
            smaller = frame.reformat(width=width, height=height, format="yuv420p")
            smaller.pts, smaller.time_base = frame.pts, frame.time_base
            for packet in stream.encode(smaller):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


BT709 = "colorprim=bt709:transfer=bt709:colormatrix=bt709"


def _make(name: str, folder: Path) -> Path:
    """The test videos, by name (each made once per module)."""
    path = folder / name
    if path.exists():
        return path
    thirty = Fraction(30)
    makers = {
        "h264.mp4": lambda: _encode(path, rate=thirty, seconds=8),
        "h264.mkv": lambda: make_video(path, seconds=6, seed=5),
        "ntsc.mp4": lambda: _encode(path, rate=Fraction(30000, 1001), seconds=8),
        "film.mp4": lambda: _encode(path, rate=Fraction(24), seconds=6, width=480, height=272),
        "hd709.mp4": lambda: _encode(
            path, rate=thirty, seconds=6, width=1280, height=720, seed=9, tags=BT709
        ),
        "hd.mp4": lambda: _encode(path, rate=thirty, seconds=6, width=1280, height=720, seed=9),
        "vp8.webm": lambda: make_video(path, seconds=6, seed=5, codec="libvpx"),
        "vp9.webm": lambda: make_video(path, seconds=6, seed=5, codec="libvpx-vp9"),
        "av1.mp4": lambda: make_video(path, seconds=6, seed=5, codec="libsvtav1"),
        "hevc.mp4": lambda: make_video(path, seconds=3, seed=5, codec="libx265"),
        "mpeg4.avi": lambda: make_video(path, seconds=3, seed=5, codec="mpeg4"),
        "long.mp4": lambda: _sparse(path, frames=8, every=3600),
        "rotated.mp4": lambda: _rotated(_make("h264.mp4", folder), path),
        "live.webm": lambda: _ffmpeg(_make("vp8.webm", folder), path, "-live", "1", "-f", "webm"),
    }
    return Path(makers[name]())


def _sparse(path: Path, *, frames: int, every: int) -> Path:
    """A tiny file of a very long video: one frame every `every` seconds."""
    base = render_scene(160, 120, 3)
    with av.open(str(path), mode="w") as container:
        stream: Any = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = Fraction(1)
        for index in range(frames):
            pixels = np.ascontiguousarray(np.roll(base, index * 10, axis=1))
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index * every
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _ffmpeg(source: Path, path: Path, *options: str) -> Path:
    """``source`` copied by Debian's ffmpeg (no re-encoding) with ``options``."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("needs ffmpeg (scripts/debian-packages.txt)")
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", source, "-c", "copy", *options, path], check=True
    )
    return path


def _rotated(source: Path, path: Path) -> Path:
    """A phone's portrait video: landscape frames stored with a rotation to show them by."""
    return _ffmpeg(source, path, "-metadata:s:v", "rotate=90")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


def _server_vpdq(path: Path) -> VpdqSignal:
    return next(s for s in hash_file(HashRequest(str(path))).signals if isinstance(s, VpdqSignal))


def _only_result(run: dict[str, Any]) -> dict[str, Any]:
    (outcome,) = run["outcomes"]
    assert "result" in outcome, outcome
    result: dict[str, Any] = outcome["result"]
    return result


# Per video: what it shows, then the largest median and largest single distance (bits)
# the browser's frames may have from the server's. Where both decoders convert colour
# alike the frames are 0-2 bits apart (measured); an HD video that does not say its colour
# matrix is converted with BT.709 by Chromium and with BT.601 by FFmpeg (its default), so
# every colour shifts a little: measured 4-12 bits (4-16 with film grain added), still far
# from the 31 bits of a match. Phones tag their videos.
CASES = {
    "h264.mp4": ("H.264 in MP4, 640x360, 30 fps", 2, 8),
    "ntsc.mp4": ("H.264 in MP4, 29.97 fps: no frame on the sampling times", 2, 8),
    "film.mp4": ("H.264 in MP4, 24 fps, 480x272 (coded 480x288)", 2, 8),
    "hd709.mp4": ("H.264 in MP4, 1280x720 tagged BT.709, as phones record", 2, 8),
    "hd.mp4": ("H.264 in MP4, 1280x720, colour matrix unsaid", 10, 20),
    "vp8.webm": ("VP8 in WebM", 2, 8),
    "vp9.webm": ("VP9 in WebM", 2, 8),
    "av1.mp4": ("AV1 in MP4", 2, 8),
    "rotated.mp4": ("H.264 stored landscape, shown portrait (rotation 90)", 2, 8),
    "live.webm": ("VP8 in WebM without a duration, as browsers record", 2, 8),
}
ENCODERS = {
    "vp8.webm": "libvpx",
    "live.webm": "libvpx",
    "vp9.webm": "libvpx-vp9",
    "av1.mp4": "libsvtav1",
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_browser_vpdq_is_the_servers(
    browser: Browser, folder: Path, name: str, record_property: Any
) -> None:
    """The same frames (count and times to the millisecond) as the server's, each within a
    few bits; the signal is one the server's parser takes."""
    if name in ENCODERS and not _encoder(ENCODERS[name]):
        pytest.skip(f"PyAV has no {ENCODERS[name]} encoder here")
    path = _make(name, folder)
    run = browser.hash([path])
    result = _only_result(run)
    assert (result["type"], result["format"]) == ("video", "mp4" if ".mp4" in name else "matroska")
    assert [s["type"] for s in result["signals"]] == ["vpdq", "sha256", "md5"]
    assert "warnings" not in result, result["warnings"]
    ours = VpdqSignalType.from_json(result["signals"][0])
    server = _server_vpdq(path)
    assert [f.ts for f in ours.frames] == [f.ts for f in server.frames]
    distances = [hamming(a.value, b.value) for a, b in zip(ours.frames, server.frames, strict=True)]
    qualities = [
        abs(a.quality - b.quality) for a, b in zip(ours.frames, server.frames, strict=True)
    ]
    record_property("pdq_bits_to_server", distances)
    record_property("quality_difference", qualities)
    what, median_bits, max_bits = CASES[name]
    print(f"\n{what}: {len(distances)} frames, bits to the server's {distances}")
    assert statistics.median(distances) <= median_bits, distances
    assert max(distances) <= max_bits, distances
    assert max(qualities) <= 5, qualities
    frames = [p for p in run["progress"] if p["stage"] == "frames"]
    assert frames[-1]["done"] == len(ours.frames) == frames[-1]["total"]
    assert run["longestStallMs"] < 500, "the page stopped answering while hashing"


@pytest.mark.parametrize("name", ["h264.mp4", "vp9.webm"])
def test_registered_browser_vpdq_is_matched_by_the_server(
    browser: Browser, folder: Path, database: Any, tmp_path: Path, name: str
) -> None:
    """What matters: her browser's hashes, registered into a case by the portal's code,
    are found by the server's matcher for the same video and for a re-upload of it
    (re-encoded smaller, at a lower bitrate)."""
    if name in ENCODERS and not _encoder(ENCODERS[name]):
        pytest.skip(f"PyAV has no {ENCODERS[name]} encoder here")
    path = _make(name, folder)
    copy = _reencode(path, tmp_path / f"copy-{name}.mp4", scale=0.75, crf=36)
    result = _only_result(browser.hash([path]))
    settings = Settings(data_dir=tmp_path / "data", portal_argon2_memory_kib=8192)
    payload = [{"kind": result["type"], "signals": result["signals"]}]
    files = parse_files(payload, limit=settings.case_item_limit)
    with database.session() as session:
        org = cases.get_org(session)
        register(
            session, org=org, files=files, consents=consents_from({"search": True}),
            minor=False, access=Access(settings), settings=settings,
        )  # fmt: skip
        matcher = MatcherCache()
        for query in (path, copy):
            signals = hash_file(HashRequest(str(query))).signals
            found = matcher.match(session, org=org, shared_only=False, signals=signals)
            videos = [m for m in found if m.signal == "vpdq"]
            assert len(videos) == 1, (query.name, found)
            assert videos[0].extra["query_coverage"] >= 80, videos[0]
        # and another video is not
        other = _make("film.mp4", folder)
        signals = hash_file(HashRequest(str(other))).signals
        assert not matcher.match(session, org=org, shared_only=False, signals=signals)


def test_videos_the_browser_cannot_hash_fail_clearly(browser: Browser, folder: Path) -> None:
    """A damaged MP4, an HEVC video (iPhones; this Chromium has no HEVC), an AVI (no
    browser opens AVI) and a video over the 6-hour limit each fail with a kind and a
    message that says what to do; the file after each still hashes."""
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(
        b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"
        + np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    )
    good = _make("vp8.webm" if _encoder("libvpx") else "h264.mp4", folder)
    bad = [corrupt, _make("long.mp4", folder), _make("mpeg4.avi", folder)]
    hevc = _encoder("libx265") and not browser.can_play('video/mp4; codecs="hvc1.1.6.L93.B0"')
    if hevc:
        bad.append(_make("hevc.mp4", folder))
    files = [path for failing in bad for path in (failing, good)]
    run = browser.hash(files)
    outcomes = run["outcomes"]
    assert [o["index"] for o in outcomes] == list(range(len(files)))
    for outcome in outcomes[1::2]:
        assert outcome["result"]["signals"][0]["type"] == "vpdq", outcome
    errors = {files[o["index"]].name: o["failure"]["error"] for o in outcomes[0::2]}
    assert errors["corrupt.mp4"]["kind"] == "corrupt"
    assert "damaged" in errors["corrupt.mp4"]["message"]
    assert errors["long.mp4"]["kind"] == "too_large"
    assert "25201 s, over the limit of 21600 s" in errors["long.mp4"]["message"]
    assert errors["mpeg4.avi"]["kind"] == "unsupported_type"
    assert "AVI" in errors["mpeg4.avi"]["message"]
    if hevc:
        assert errors["hevc.mp4"]["kind"] == "unsupported_type"
        assert "Most Compatible" in errors["hevc.mp4"]["message"]
        assert "H.264" in errors["hevc.mp4"]["message"]


def test_frame_limit_and_sampling_rate(browser: Browser, folder: Path) -> None:
    """The bank's rate is a parameter (2 fps gives the server's 2 fps frames), and a video
    that would give more frames than the limit is refused before any is hashed."""
    from reclaim.media import Sampling
    from reclaim.signals.source import HashOptions

    path = _make("h264.mp4", folder)
    (outcome,) = browser.hash([path], fps=2, video={"maxFrames": 16})["outcomes"]
    ours = VpdqSignalType.from_json(outcome["result"]["signals"][0])
    options = HashOptions(sampling=Sampling(fps=2))
    server = next(
        s for s in hash_file(HashRequest(str(path), options)).signals if isinstance(s, VpdqSignal)
    )
    assert [f.ts for f in ours.frames] == [f.ts for f in server.frames]
    assert len(ours.frames) == 16
    run = browser.hash([path], fps=2, video={"maxFrames": 15})
    (failed,) = run["outcomes"]
    assert failed["failure"]["error"]["kind"] == "too_large"
    assert "16 frames, over the limit of 15" in failed["failure"]["error"]["message"]


def test_a_cut_off_video_keeps_the_frames_that_decoded(
    browser: Browser, folder: Path, tmp_path: Path
) -> None:
    """A download cut short: an MP4 whose index comes first (as streaming sites write
    them) and a WebM, each cut at 60%. The browser hashes the frames before the cut -- the
    server's frames -- and says the video ended early."""
    sources = [_make("vp9.webm" if _encoder("libvpx-vp9") else "h264.mkv", folder)]
    if shutil.which("ffmpeg"):
        indexed = tmp_path / "indexed.mp4"
        sources.append(_ffmpeg(_make("h264.mp4", folder), indexed, "-movflags", "+faststart"))
    cut = []
    for source in sources:
        data = source.read_bytes()
        cut.append(tmp_path / f"cut-{source.name}")
        cut[-1].write_bytes(data[: len(data) * 6 // 10])
    run = browser.hash(cut)
    for path, outcome in zip(cut, run["outcomes"], strict=True):
        result = outcome["result"]
        signal = result["signals"][0]
        assert signal["partial"] is True
        assert result["warnings"] == [
            "video ended early (truncated or damaged); hashed the frames that decoded"
        ]
        server = _server_vpdq(path)
        assert [f["ts"] for f in signal["frames"]] == [f.ts for f in server.frames]


def test_older_browsers(browser: Browser, folder: Path) -> None:
    """Where VideoFrame.copyTo cannot convert to RGBA, frames are drawn on a canvas with
    the recorded rotation undone: the same hashes. Where there is no VideoFrame at all,
    the browser cannot say which frame it shows: a clear refusal, not a guess."""
    path = _make("rotated.mp4", folder)
    server = _server_vpdq(path)
    browser.page.set_input_files("#files", [str(path)])
    drawn = browser.page.evaluate("() => globalThis.videoHarness.hashWithout('copyTo')")
    signal = VpdqSignalType.from_json(_only_result(drawn)["signals"][0])
    assert [f.ts for f in signal.frames] == [f.ts for f in server.frames]
    distances = [
        hamming(a.value, b.value) for a, b in zip(signal.frames, server.frames, strict=True)
    ]
    assert max(distances) <= 8, distances
    old = browser.page.evaluate("() => globalThis.videoHarness.hashWithout('VideoFrame')")
    (outcome,) = old["outcomes"]
    assert outcome["failure"]["error"]["kind"] == "unsupported_type"
    assert "too old" in outcome["failure"]["error"]["message"]


def test_hash_file_with_a_frame_sampler_on_the_page(browser: Browser, folder: Path) -> None:
    """files.js's hashFile given video.js as its frame sampler (PDQ on the page's thread)
    gives exactly what page.js gives with the worker."""
    path = _make("ntsc.mp4", folder)
    (via_worker,) = browser.hash([path])["outcomes"]
    (here,) = browser.page.evaluate("() => globalThis.videoHarness.hashHere()")
    assert here == via_worker["result"]


def test_a_seek_that_never_ends_is_an_error(browser: Browser, folder: Path) -> None:
    """No wait for ever: a seek that takes longer than its timeout (1 ms here) fails the
    file with a `timeout`, and the next file hashes."""
    path = _make("h264.mp4", folder)
    run = browser.hash([path], video={"seekTimeoutMs": 1})
    (outcome,) = run["outcomes"]
    assert outcome["failure"]["error"]["kind"] == "timeout", outcome
    (outcome,) = browser.hash([path])["outcomes"]
    assert outcome["result"]["signals"][0]["type"] == "vpdq"
