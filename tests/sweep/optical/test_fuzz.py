"""Hostile, broken and oversized files: each ends in the typed MediaError (or a report
that says what it could not read), never a crash, a hang or an untyped exception."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reclaim.media import MediaError, MediaLimits
from reclaim.sweep.optical import GlintOptions, analyse, analyse_in_process
from reclaim.sweep.report import SweepReport
from tests.media.hostile import empty_mp4, faststart_copy, hls_playlist, jpeg_bytes, remove_box

DEFAULT = MediaLimits()


def _outcome(path: Path, limits: MediaLimits = DEFAULT) -> str:
    """``report``, or the kind of the MediaError (which must name the file and a reason)."""
    failure: MediaError | None = None
    try:
        report = analyse_in_process(path, limits=limits)
    except MediaError as error:
        failure = error
    if failure is not None:
        assert failure.path == str(path)
        assert failure.reason
        return failure.kind
    assert isinstance(report, SweepReport)
    return "report"


@pytest.fixture(scope="module")
def corpus(small_video: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("optical-hostile")
    video = small_video.read_bytes()
    files: dict[str, bytes] = {
        "empty.mp4": b"",
        "random.mp4": os.urandom(50_000),
        "ftyp-then-noise.mp4": video[:32] + os.urandom(40_000),
        "truncated.mp4": video[: len(video) // 2],  # the index (moov) is at the end
        "no-moov.mp4": remove_box(video, b"moov"),
        "photo.jpg": jpeg_bytes(),
        "photo-named-video.mp4": jpeg_bytes(2),
        "playlist.mp4": hls_playlist("http://169.254.169.254/latest/meta-data/"),
        "page.mp4": b"<!doctype html><html><body>not a video</body></html>",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = root / name
        paths[name].write_bytes(data)
    paths["zero-frames.mp4"] = empty_mp4(root / "zero-frames.mp4")
    paths["faststart.mp4"] = faststart_copy(small_video, root / "faststart.mp4")
    data = paths["faststart.mp4"].read_bytes()
    paths["cut-short.mp4"] = root / "cut-short.mp4"  # readable start, then nothing
    paths["cut-short.mp4"].write_bytes(data[: int(len(data) * 0.6)])
    paths["folder"] = root / "folder"
    paths["folder"].mkdir()
    paths["missing.mp4"] = root / "missing.mp4"
    return paths


EXPECTED = {
    "empty.mp4": "empty_file",
    "random.mp4": "unsupported_type",
    "ftyp-then-noise.mp4": "corrupt",
    "truncated.mp4": "corrupt",
    "no-moov.mp4": "corrupt",
    "photo.jpg": "unsupported_type",
    "photo-named-video.mp4": "unsupported_type",
    "playlist.mp4": "unsupported_type",
    "page.mp4": "unsupported_type",
    "zero-frames.mp4": "no_frames",
    "folder": "not_a_file",
    "missing.mp4": "not_a_file",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_files_get_their_typed_error(corpus: dict[str, Path], name: str) -> None:
    assert _outcome(corpus[name]) == EXPECTED[name]


def test_a_video_cut_short_is_analysed_up_to_the_cut(corpus: dict[str, Path]) -> None:
    report = analyse_in_process(corpus["cut-short.mp4"])
    assert any("could not be read past" in note for note in report.notes), report.notes


def test_limits_make_large_videos_too_large(small_video: Path) -> None:
    assert _outcome(small_video, MediaLimits(max_video_pixels=100 * 100)) == "too_large"
    assert _outcome(small_video, MediaLimits(max_video_bytes=1000)) == "too_large"
    assert _outcome(small_video, MediaLimits(max_video_seconds=1.0)) == "too_large"
    assert _outcome(small_video, MediaLimits(max_frames=5)) == "too_large"


def test_a_frame_limit_slows_the_reading_before_refusing(small_video: Path) -> None:
    report = analyse_in_process(small_video, limits=MediaLimits(max_frames=12))
    assert any("a long video" in note for note in report.notes)
    assert report.parameters["fps_read"] <= 6.0


def _payload_start(data: bytes) -> int:
    """Where the coded frames (the ``mdat`` box) begin in an ISO-BMFF file."""
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        if data[offset + 4 : offset + 8] == b"mdat":
            return offset + 8
        if size < 8:
            break
        offset += size
    return 0


def test_mutated_videos_never_crash(corpus: dict[str, Path], tmp_path: Path) -> None:
    """Bytes overwritten and cut at random places of a real sweep (index first): in the
    coded frames, so that decoding runs into them, or anywhere."""
    rng = np.random.default_rng(2024)
    original = corpus["faststart.mp4"].read_bytes()
    payload = _payload_start(original)
    assert payload > 0
    outcomes = []
    for number in range(16):
        data = bytearray(original)
        start = payload if number % 2 == 0 else 0
        for _ in range(int(rng.integers(1, 12))):
            at = int(rng.integers(start, len(data)))
            data[at : at + int(rng.integers(1, 48))] = rng.bytes(int(rng.integers(1, 48)))
        if number % 4 == 1:
            data = data[: int(rng.integers(payload, len(data)))]
        path = tmp_path / f"mutant-{number}.mp4"
        path.write_bytes(bytes(data))
        outcomes.append(_outcome(path))
    assert set(outcomes) <= {"report", "corrupt", "no_frames", "unsupported_type", "too_large"}
    assert "report" in outcomes  # some decoded far enough to be analysed


def test_the_worker_reports_errors_and_stops_at_its_time(
    corpus: dict[str, Path], small_video: Path
) -> None:
    with pytest.raises(MediaError) as caught:
        analyse(corpus["truncated.mp4"])
    assert caught.value.kind == "corrupt"
    with pytest.raises(MediaError) as caught:
        analyse(small_video, limits=MediaLimits(timeout_seconds=0.05))
    assert caught.value.kind == "timeout"


def test_a_video_full_of_glints_stays_bounded(tmp_path: Path) -> None:
    """Hundreds of glints a frame, most of them flickering: the work per frame and the
    tracks kept are bounded, and the report still comes."""
    import time

    import av

    rng = np.random.default_rng(7)
    path = tmp_path / "stars.mp4"
    fixed = rng.integers(8, [312, 172], size=(150, 2))
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 15)
        for index in range(45):
            frame = np.full((180, 320, 3), 40, np.uint8)
            flicker = rng.integers(8, [312, 172], size=(250, 2))
            for x, y in [*fixed, *flicker]:
                frame[y - 1 : y + 2, x - 1 : x + 2] = 255
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    start = time.perf_counter()
    report = analyse_in_process(path)
    assert time.perf_counter() - start < 20
    assert len(report.findings) <= 12
    assert report.parameters["tracks_followed"] > 100


def _write_video(
    path: Path,
    size: tuple[int, int],
    pts: list[int],
    *,
    codec: str = "ffv1",
    pix_fmt: str = "yuv444p",
    rate: int = 12,
    rotation: int = 0,
) -> Path:
    """Noise frames of ``size`` (width, height) at the given presentation times."""
    import av

    rng = np.random.default_rng(1)
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.time_base = Fraction(1, rate)
        if rotation:
            stream.set_display_rotation(rotation)
        for ts in pts:
            rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            picture.pts = ts
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for index in range(20):
            samples = np.zeros((1, 1024), np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, index * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


ODD = {
    # name: (how to write it, outcome)
    "thin-1920x2.mkv": (lambda p: _write_video(p, (1920, 2), list(range(24))), "report"),
    "thin-2x1920.mkv": (lambda p: _write_video(p, (2, 1920), list(range(24))), "report"),
    "one-pixel.mkv": (lambda p: _write_video(p, (1, 1), list(range(24))), "report"),
    "grey-16-bit.mkv": (
        lambda p: _write_video(p, (96, 64), list(range(24)), pix_fmt="gray16le"),
        "report",
    ),
    "alpha.mkv": (lambda p: _write_video(p, (96, 64), list(range(24)), pix_fmt="bgra"), "report"),
    "ten-bit.mp4": (
        lambda p: _write_video(
            p, (96, 64), list(range(24)), codec="libx264", pix_fmt="yuv420p10le"
        ),
        "report",
    ),
    "one-frame.mp4": (
        lambda p: _write_video(p, (96, 64), [0], codec="libx264", pix_fmt="yuv420p"),
        "report",
    ),
    "all-at-zero.mkv": (lambda p: _write_video(p, (96, 64), [0] * 23 + [1]), "report"),
    "negative-times.mkv": (lambda p: _write_video(p, (96, 64), list(range(-1000, -976))), "report"),
    "variable-rate.mkv": (
        lambda p: _write_video(p, (96, 64), [i * i for i in range(24)]),
        "report",
    ),
    "jumps-past-six-hours.mkv": (
        lambda p: _write_video(p, (96, 64), [*range(12), 12 * 7 * 3600]),
        "too_large",
    ),
    "rotated.mp4": (
        lambda p: _write_video(
            p, (96, 64), list(range(24)), codec="libx264", pix_fmt="yuv420p", rotation=90
        ),
        "report",
    ),
    "audio-only.mp4": (_audio_only, "no_frames"),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_videos_are_analysed_or_refused_clearly(tmp_path: Path, name: str) -> None:
    """Odd sizes, pixel formats, timestamps and streams: a report or a typed refusal."""
    write, expected = ODD[name]
    path = write(tmp_path / name)
    assert _outcome(path) == expected


def test_a_video_with_too_few_frames_a_second_says_so(tmp_path: Path) -> None:
    """At 1 frame a second no glint can be followed: the report said only that no glint
    stayed put, as if the room had been swept."""
    path = _write_video(tmp_path / "slow.mkv", (96, 64), list(range(8)), rate=1)
    report = analyse_in_process(path)
    assert any("the video has only 1 frame a second" in note for note in report.notes), report.notes
    report = analyse_in_process(path, options=GlintOptions(fps=1.0))
    assert any("the options read only 1 frame a second" in note for note in report.notes), (
        report.notes
    )
