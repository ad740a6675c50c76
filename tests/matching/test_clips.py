"""The clip-aware video rule on the reference videos and on clips cut from them.

Banked videos here are the reference hash files (every frame): a clip sampled at 1 frame
per second at any phase then finds frames of the banked video within 1/60 s, which is what
these fast-moving videos need (their frames' PDQ moves 50-90 bits in 0.1 s).
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reclaim.banks.matcher import BankMatcher
from reclaim.banks.models import Bank, BankKind
from reclaim.banks.service import SignalRow
from reclaim.matching.clips import ClipRule
from reclaim.signals import HashOptions, HashRequest, hash_file
from reclaim.signals.vpdq import REFERENCE_RULE, VpdqFrame, VpdqSignal


def _hashes(reference: Path) -> dict[str, VpdqSignal]:
    folder = reference / "vpdq" / "hashes"
    return {
        path.stem: VpdqSignal.from_reference_text(path.read_text())
        for path in sorted(folder.glob("*.txt"))
        if "128x128" not in path.stem and "padded" not in path.stem
    }


@pytest.fixture(scope="module")
def hashes(reference: Path) -> dict[str, VpdqSignal]:
    return _hashes(reference)


def _scene(name: str) -> str:
    return name.split("-")[0]


def _cut(video: VpdqSignal, start: float, seconds: float, fps: float = 1.0) -> VpdqSignal:
    """A clip from ``start``, sampled at ``fps`` (the nearest frame to each sample time),
    its timestamps from 0 like a re-uploaded file's."""
    frames = video.frames
    times = np.array([f.ts for f in frames])
    out = []
    for k in range(int(seconds * fps) + 1):
        if start + k / fps > times[-1]:
            break  # the source ends first
        frame = frames[int(np.argmin(np.abs(times - (start + k / fps))))]
        out.append(VpdqFrame(round(frame.ts - start, 3), frame.quality, frame.value))
    return VpdqSignal(tuple(out))


def test_no_reference_video_matches_another_scene(hashes: dict[str, VpdqSignal]) -> None:
    rule = ClipRule()
    for a, b in itertools.permutations(hashes, 2):
        if _scene(a) != _scene(b):
            assert rule.compare(hashes[a], hashes[b]) is None, (a, b)


def test_the_large_logo_variant_matches_what_the_reference_rule_misses(
    hashes: dict[str, VpdqSignal],
) -> None:
    logo, original = hashes["chair-22-with-large-logo-bar"], hashes["chair-orig-22-sd-bar"]
    assert REFERENCE_RULE.compare(logo, original) is None
    found = ClipRule().compare(logo, original)
    assert found is not None
    assert found.offset == 0.0
    assert found.time_range[1] - found.time_range[0] > 18  # most of its 22 s
    assert 40 <= found.median_distance <= 64  # every frame is changed, none is random


@pytest.mark.parametrize(
    ("banked", "copy"),
    [
        ("chair-orig-22-sd-bar", "chair-22-sd-grey-bar"),
        ("chair-orig-22-sd-bar", "chair-22-with-small-logo-bar"),
        ("chair-orig-22-sd-bar", "chair-22-sd-sepia-bar"),
        ("pattern-longer-no-bar", "pattern-hd-no-bar"),
        ("pattern-hd-no-bar", "pattern-longer-no-bar"),
        ("pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar"),
    ],
)
@pytest.mark.parametrize("start", [0.5, 1.25])
def test_one_fps_clips_at_any_phase_are_found_with_their_time_ranges(
    hashes: dict[str, VpdqSignal], banked: str, copy: str, start: float
) -> None:
    clip = _cut(hashes[copy], start, 6.0)
    found = ClipRule().compare(clip, hashes[banked])
    assert found is not None
    frames = hashes[banked].frames
    end = min(6.0, frames[-1].ts - start, clip.frames[-1].ts)  # either may end first
    # ends are known to the query's sampling interval (1 s)
    assert found.time_range == pytest.approx((0.0, end), abs=1.0)
    # (the pattern videos' longer cut starts a frame apart from the others)
    assert found.target_time_range[0] == pytest.approx(start, abs=0.1)
    assert found.query_coverage >= 100 * (end - 1.0) / clip.frames[-1].ts


def test_short_or_foreign_clips_are_not_found(hashes: dict[str, VpdqSignal]) -> None:
    banked = hashes["chair-orig-22-sd-bar"]
    assert ClipRule().compare(_cut(hashes["chair-22-sd-grey-bar"], 2.0, 3.0), banked) is None
    assert ClipRule().compare(_cut(hashes["pattern-hd-no-bar"], 0.5, 6.0), banked) is None
    assert ClipRule().compare(_cut(hashes["doorknob-hd-no-bar"], 0.0, 3.9), banked) is None


def _edited_clip(source: Path, out: Path, *, start: float, seconds: float, mirror: bool) -> None:
    """Re-encode a cut of ``source`` at a low bitrate, scaled to 360 lines, mirrored if
    asked: what a re-uploader's app does."""
    with av.open(str(source)) as inp, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=30)
        stream.width, stream.height = 240, 360
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 300_000
        stream.time_base = Fraction(1, 30)
        count = 0
        for frame in inp.decode(video=0):
            if frame.time is None or frame.time < start:
                continue
            if frame.time > start + seconds:
                break
            rgb = frame.to_ndarray(format="rgb24")
            if mirror:
                rgb = np.ascontiguousarray(rgb[:, ::-1])
            picture = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(240, 360)
            picture.pts = count
            count += 1
            for packet in stream.encode(picture):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)


def _matcher(banked: dict[str, VpdqSignal]) -> BankMatcher:
    matcher = BankMatcher([Bank(id=1, name="videos", kind=BankKind.NORMAL, threshold=None)])
    rows = []
    for number, (name, video) in enumerate(banked.items(), start=1):
        frames = json.dumps(video.to_json()["frames"])
        rows.append(SignalRow(number, number, f"v{number}", name, 1, "vpdq", frames, None))
    matcher.add(rows)
    return matcher


@pytest.mark.slow
@pytest.mark.parametrize("mirror", [False, True])
def test_edited_clips_of_the_reference_videos_are_found_through_the_matcher(
    reference: Path, hashes: dict[str, VpdqSignal], tmp_path: Path, mirror: bool
) -> None:
    """Cut 7 s at a fractional offset, scaled to 360 lines, re-encoded at 300 kb/s,
    (mirrored): hashed at 1 frame per second as ``reclaim match`` does, found in the right
    banked video only, with its time ranges. The copy keeps the letterbox bars of its
    source; the banked original has none, so it is found through its content view."""
    banked = {n: hashes[n] for n in ("chair-orig-22-hd-no-bar", "pattern-hd-no-bar")}
    matcher = _matcher(banked)
    clip = tmp_path / "clip.mp4"
    _edited_clip(
        reference / "vpdq" / "videos" / "chair-orig-22-sd-bar.mp4",
        clip,
        start=4.4,
        seconds=7.0,
        mirror=mirror,
    )
    result = hash_file(HashRequest(str(clip), HashOptions(query_regions=True)))
    videos = [s for s in result.signals if isinstance(s, VpdqSignal)]
    (match,) = matcher.match(videos)
    assert match.item == "chair-orig-22-hd-no-bar"
    assert match.extra["rule"] == "clip"
    assert match.extra["region"] == "content"
    assert match.extra["variant"] == ("flipy" if mirror else "original")
    start, end = match.extra["target_time_range"]
    assert start == pytest.approx(4.4, abs=0.6)
    assert end - start >= 5.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("video", "scene"),
    [
        ("pattern-sd-grey-bar", "pattern"),
        ("pattern-sd-with-small-logo-bar", "pattern"),
        pytest.param(
            "pattern-sd-with-large-logo-bar",
            "pattern",
            marks=pytest.mark.xfail(
                strict=True,
                reason="open in #4: the logo puts 99% of frames over 31 bits (40-70) from "
                "the original's, so a 1-frame-per-second query has no frame to anchor on; "
                "needs per-frame grids banked (the picture grid, for video)",
            ),
        ),
        ("chair-22-with-large-logo-bar", "chair"),
        ("chair-22-sd-sepia-bar", "chair"),
        ("doorknob-hd-no-bar", "doorknob"),
    ],
)
def test_letterboxed_reference_videos_find_the_originals_without_bars(
    reference: Path, hashes: dict[str, VpdqSignal], video: str, scene: str
) -> None:
    """The pairs the reference rule misses: the SD copies carry bars the HD originals do
    not have (and some a logo). Hashed as ``reclaim match`` hashes (1 frame per second),
    each finds its own scene's banked originals and no other scene's."""
    names = ("chair-orig-22-hd-no-bar", "pattern-hd-no-bar", "pattern-longer-no-bar")
    matcher = _matcher({n: hashes[n] for n in (*names, "doorknob-hd-no-bar")})
    path = reference / "vpdq" / "videos" / f"{video}.mp4"
    result = hash_file(HashRequest(str(path), HashOptions(query_regions=True)))
    found = matcher.match([s for s in result.signals if isinstance(s, VpdqSignal)])
    if scene == "doorknob":  # 4 s, two frames of quality >= 50 at 1 fps: too little to
        assert found == []  # find itself by, and nothing of another scene
        return
    assert {m.item for m in found} == {n for n in names if n.startswith(scene)}
    for match in found:
        assert match.extra["region"] == "content"
        assert match.extra["time_range"][1] - match.extra["time_range"][0] >= 5.0


def test_frames_out_of_time_order_are_put_in_order(hashes: dict[str, VpdqSignal]) -> None:
    """A hash list from elsewhere may list frames in any order; the alignment is the same."""
    clip = _cut(hashes["chair-22-sd-grey-bar"], 3.5, 6.0)
    shuffled = VpdqSignal(tuple(reversed(clip.frames)))
    banked = hashes["chair-orig-22-sd-bar"]
    assert ClipRule().compare(shuffled, banked) == ClipRule().compare(clip, banked)
    assert ClipRule().compare(clip, banked) is not None
