"""Every supported format is recognised by its bytes and decodes to the right pixels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from reclaim.demo.media import render_scene
from reclaim.media import (
    MediaFormat,
    MediaKind,
    MediaLimits,
    Sampling,
    decode_image,
    iter_video_frames,
    probe_video,
    sniff_file,
)
from reclaim.signals import PdqSignalType, pdq_from_rgb
from tests.media.generate import IMAGE_FORMATS, VIDEO_FORMATS, frame_at, write_image, write_video

EXPECTED_FORMAT = {
    ".jpg": MediaFormat.JPEG,
    ".png": MediaFormat.PNG,
    ".gif": MediaFormat.GIF,
    ".webp": MediaFormat.WEBP,
    ".bmp": MediaFormat.BMP,
    ".tiff": MediaFormat.TIFF,
    ".heic": MediaFormat.HEIF,
    ".mp4": MediaFormat.MP4,
    ".mov": MediaFormat.MP4,
    ".3gp": MediaFormat.MP4,
    ".mkv": MediaFormat.MATROSKA,
    ".webm": MediaFormat.MATROSKA,
    ".avi": MediaFormat.AVI,
    ".ts": MediaFormat.MPEGTS,
    ".flv": MediaFormat.FLV,
}
LIMITS = MediaLimits()


@pytest.mark.parametrize("suffix", IMAGE_FORMATS)
def test_image_formats_decode_to_their_pixels(suffix: str, tmp_path: Path) -> None:
    source = render_scene(240, 180, seed=7)
    path = write_image(tmp_path / f"picture{suffix}", source)
    renamed = shutil.copy(path, tmp_path / "misleading-name.txt")  # the name never matters
    fmt = sniff_file(Path(renamed))
    assert fmt is EXPECTED_FORMAT[suffix]
    assert fmt.kind is MediaKind.IMAGE
    decoded = decode_image(Path(renamed), fmt, LIMITS)
    assert decoded.rgb.shape == (180, 240, 3)
    assert decoded.rgb.dtype == np.uint8
    lossy = suffix in (".jpg", ".webp", ".heic", ".gif")
    distance = PdqSignalType.distance(pdq_from_rgb(decoded.rgb).value, pdq_from_rgb(source).value)
    assert distance <= (24 if lossy else 0), distance


@pytest.fixture(scope="module", params=sorted(VIDEO_FORMATS))
def video(request: pytest.FixtureRequest, media_dir: Path) -> Path:
    path = media_dir / f"clip{request.param}"
    if not path.exists():
        write_video(path, seconds=4.0, fps=25, gop=25)
    return path


def test_video_formats_are_sniffed_and_probed(video: Path) -> None:
    fmt = sniff_file(video)
    assert fmt is EXPECTED_FORMAT[video.suffix]
    info = probe_video(video, fmt, LIMITS)
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(25.0)


def test_sampled_frames_are_exactly_the_every_frame_ones(video: Path) -> None:
    fmt = sniff_file(video)
    every = {
        round(f.ts, 3): f.rgb for f in iter_video_frames(video, fmt, LIMITS, Sampling.every_frame())
    }
    assert len(every) == 100
    for fps, expected in [
        (1.0, [0.0, 1.0, 2.0, 3.0]),
        (2.0, [0.0, 0.52, 1.0, 1.52, 2.0, 2.52, 3.0, 3.52]),
        (25.0, sorted(every)),
    ]:
        sampled = list(iter_video_frames(video, fmt, LIMITS, Sampling(fps=fps)))
        assert [round(f.ts, 3) for f in sampled] == expected
        for frame in sampled:
            assert np.array_equal(frame.rgb, every[round(frame.ts, 3)]), (fps, frame.ts)


def test_decoded_frames_show_what_was_encoded(video: Path) -> None:
    fmt = sniff_file(video)
    for frame in iter_video_frames(video, fmt, LIMITS, Sampling(fps=1.0)):
        expected = pdq_from_rgb(frame_at(frame.ts)).value
        assert PdqSignalType.distance(pdq_from_rgb(frame.rgb).value, expected) <= 31


def test_keyframes_only_gives_the_keyframes(video: Path) -> None:
    fmt = sniff_file(video)
    frames = list(iter_video_frames(video, fmt, LIMITS, Sampling(fps=1.0, keyframes_only=True)))
    assert [round(f.ts, 3) for f in frames] == [0.0, 1.0, 2.0, 3.0]


def test_max_side_scales_frames(video: Path) -> None:
    fmt = sniff_file(video)
    frame = next(iter_video_frames(video, fmt, LIMITS, Sampling(fps=1.0), max_side=160))
    assert frame.rgb.shape == (120, 160, 3)
