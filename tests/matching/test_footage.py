"""Clips of synthetic footage (a camera panning and zooming over a photo) are found in the
banked footage with their time ranges, through re-encoding, 360p, logos, bars, mirroring.

Footage is banked every frame (``reclaim bank add --every-frame``) as the clip rule
needs for fast-moving video; queries are hashed as ``reclaim match`` does, at 1 frame
per second from wherever the clip starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from reclaim.banks.matcher import BankMatcher
from reclaim.banks.models import Bank, BankKind
from reclaim.banks.service import SignalRow
from reclaim.demo.media import render_scene
from reclaim.media.frames import Sampling
from reclaim.signals import HashOptions, HashRequest, hash_file
from reclaim.signals.vpdq import VpdqSignal

FPS = 15
SECONDS = 20.0


def _camera(seed: int) -> Iterator[np.ndarray]:
    """640x360 frames of a camera panning across a 1600x1000 textured scene (a room's
    colours over brick, grass or gravel) and zooming in, with a cheap sensor's noise."""
    from skimage import data

    texture = (data.brick, data.grass, data.gravel)[seed % 3]()
    tiled = np.tile(texture, (2, 4))[:1000, :1600].astype(np.float32) / 255
    colours = render_scene(1600, 1000, seed=seed).astype(np.float32)
    scene = Image.fromarray((colours * (0.55 + 0.45 * tiled[:, :, None])).astype(np.uint8))
    noise = np.random.default_rng(seed)
    for k in range(int(SECONDS * FPS)):
        t = k / (SECONDS * FPS)
        zoom = 1.0 - 0.35 * t
        width, height = 900 * zoom, 506 * zoom
        left, top = 40 + 600 * t, 60 + 300 * t * t
        box = (left, top, left + width, top + height)
        view = np.asarray(scene.resize((640, 360), Image.Resampling.BILINEAR, box=box))
        grain = noise.normal(0, 5, view.shape)
        yield np.clip(view + grain, 0, 255).astype(np.uint8)


def _write(
    frames: Iterator[np.ndarray], path: Path, *, bitrate: int, size: tuple[int, int]
) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        stream.time_base = Fraction(1, FPS)
        for number, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame = frame.reformat(*size)
            frame.pts = number
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _edited(
    seed: int, start: float, seconds: float, *, logo: bool, bars: bool, mirror: bool
) -> Iterator[np.ndarray]:
    first, last = round(start * FPS), round((start + seconds) * FPS)
    for number, rgb in enumerate(_camera(seed)):
        if not first <= number < last:
            continue
        picture = Image.fromarray(rgb[:, ::-1] if mirror else rgb)
        if logo:
            ImageDraw.Draw(picture).ellipse((520, 20, 620, 120), fill=(230, 40, 160))
        if bars:  # letterboxed into a 4:3 frame
            framed = Image.new("RGB", (640, 480))
            framed.paste(picture, (0, 60))
            picture = framed
        yield np.asarray(picture)


@pytest.fixture(scope="module")
def banked(tmp_path_factory: pytest.TempPathFactory) -> BankMatcher:
    folder = tmp_path_factory.mktemp("footage")
    rows = []
    for number, seed in enumerate((31, 32), start=1):
        path = folder / f"footage-{seed}.mp4"
        _write(_camera(seed), path, bitrate=2_000_000, size=(640, 360))
        options = HashOptions(sampling=Sampling.every_frame())
        (video,) = [
            s
            for s in hash_file(HashRequest(str(path), options)).signals
            if isinstance(s, VpdqSignal)
        ]
        frames = json.dumps(video.to_json()["frames"])
        rows.append(
            SignalRow(number, number, f"f{seed}", f"footage-{seed}", 1, "vpdq", frames, None)
        )
    matcher = BankMatcher([Bank(id=1, name="footage", kind=BankKind.NORMAL, threshold=None)])
    matcher.add(rows)
    return matcher


EDITS = {
    "re-encoded at 360p": {"logo": False, "bars": False, "mirror": False},
    "with a logo": {"logo": True, "bars": False, "mirror": False},
    "letterboxed": {"logo": False, "bars": True, "mirror": False},
    "mirrored": {"logo": False, "bars": False, "mirror": True},
    "all of them": {"logo": True, "bars": True, "mirror": True},
}


@pytest.mark.slow
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_clips_are_found_with_their_time_ranges(
    banked: BankMatcher, tmp_path: Path, edit: str
) -> None:
    start, seconds = 6.4, 7.0
    clip = tmp_path / "clip.mp4"
    frames = _edited(31, start, seconds, **EDITS[edit])
    size = (480, 360) if EDITS[edit]["bars"] else (640, 360)
    _write(frames, clip, bitrate=250_000, size=size)
    result = hash_file(HashRequest(str(clip), HashOptions(query_regions=True)))
    (match,) = banked.match([s for s in result.signals if isinstance(s, VpdqSignal)])
    assert match.item == "footage-31"
    assert match.extra["variant"] == ("flipy" if EDITS[edit]["mirror"] else "original")
    assert match.extra["region"] == ("content" if EDITS[edit]["bars"] else "whole")
    query_start, query_end = match.extra["time_range"]
    target_start, _ = match.extra["target_time_range"]
    assert target_start - query_start == pytest.approx(start, abs=0.1)
    assert query_end - query_start >= 5.0
    assert match.extra["target_coverage"] == pytest.approx(100 * seconds / SECONDS, abs=8)


@pytest.mark.slow
def test_clips_of_other_footage_are_not_found(banked: BankMatcher, tmp_path: Path) -> None:
    clip = tmp_path / "other.mp4"
    _write(
        _edited(33, 2.0, 8.0, logo=False, bars=False, mirror=False),
        clip,
        bitrate=500_000,
        size=(640, 360),
    )
    result = hash_file(HashRequest(str(clip), HashOptions(query_regions=True)))
    assert banked.match([s for s in result.signals if isinstance(s, VpdqSignal)]) == []
