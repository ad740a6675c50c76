"""Thumbnails of images and videos, and the blurred greyscale preview shown before them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reclaim.demo.media import render_scene
from reclaim.media import MediaError, MediaLimits
from reclaim.media.errors import Corrupt, EmptyFile, NotAFile, TooLarge, UnsupportedType
from reclaim.media.thumbnail import Thumbnailer, blurred_preview, make_thumbnail
from reclaim.signals import PDQ_THRESHOLD, PdqSignalType, pdq_from_rgb
from tests.media.generate import IMAGE_FORMATS, frame_at, write_image, write_video
from tests.media.hostile import build_corpus, jpeg_bytes, png_declaring


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(_open(data).convert("RGB"))


def _distance(a: np.ndarray, b: np.ndarray) -> int:
    return PdqSignalType.distance(pdq_from_rgb(a).value, pdq_from_rgb(b).value)


@pytest.mark.parametrize("suffix", IMAGE_FORMATS)
def test_every_image_format_gives_a_small_jpeg(tmp_path: Path, suffix: str) -> None:
    scene = render_scene(800, 600, seed=3)
    path = write_image(tmp_path / f"scene{suffix}", scene)
    thumb = make_thumbnail(path)
    image = _open(thumb)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert image.size == (320, 240)
    small = np.asarray(Image.fromarray(scene).resize((320, 240), Image.Resampling.LANCZOS))
    assert _distance(_pixels(thumb), small) <= 16


def test_a_small_image_is_not_enlarged_and_max_side_is_obeyed(tmp_path: Path) -> None:
    small = write_image(tmp_path / "small.png", render_scene(120, 90, seed=4))
    assert _open(make_thumbnail(small)).size == (120, 90)
    tall = write_image(tmp_path / "tall.jpg", render_scene(300, 900, seed=4))
    assert _open(make_thumbnail(tall, max_side=100)).size == (33, 100)
    with pytest.raises(ValueError, match="at least 1 pixel"):
        make_thumbnail(small, max_side=0)


def test_exif_orientation_is_applied_and_no_metadata_is_kept(tmp_path: Path) -> None:
    upright = Image.fromarray(render_scene(300, 200, seed=1))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter; shown upright
    exif[0x010F] = "SecretCam"  # camera make
    exif[0x0110] = "Model-X"
    path = tmp_path / "oriented.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(
        path, quality=95, exif=exif, comment=b"taken at home", icc_profile=b"\0" * 128
    )
    thumb = make_thumbnail(path)
    image = _open(thumb)
    assert image.size == (300, 200)
    assert _distance(np.asarray(image), np.asarray(upright)) <= 16
    assert len(image.getexif()) == 0
    assert "comment" not in image.info
    assert "icc_profile" not in image.info
    assert b"SecretCam" not in thumb
    assert b"taken at home" not in thumb


def test_a_video_gives_a_frame_about_a_third_in(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", seconds=3.0, size=(480, 360))
    thumb = _pixels(make_thumbnail(video))
    assert thumb.shape == (240, 320, 3)
    at_third = np.asarray(Image.fromarray(frame_at(1.0, size=(480, 360))).resize((320, 240)))
    at_start = np.asarray(Image.fromarray(frame_at(0.0, size=(480, 360))).resize((320, 240)))
    assert _distance(thumb, at_third) <= 20
    assert _distance(thumb, at_third) < _distance(thumb, at_start)


@pytest.mark.parametrize("suffix", [".webm", ".avi", ".ts", ".mkv"])
def test_other_video_containers(tmp_path: Path, suffix: str) -> None:
    video = write_video(tmp_path / f"clip{suffix}", seconds=2.0)
    assert _open(make_thumbnail(video)).size == (320, 240)


def test_hostile_and_broken_files_get_their_typed_error(tmp_path: Path) -> None:
    expected = build_corpus(tmp_path / "corpus", "http://127.0.0.1:9/never.ts")
    outcomes: dict[str, str] = {}
    for name in expected:
        try:
            made = make_thumbnail(tmp_path / "corpus" / name)
        except MediaError as error:
            outcomes[name] = error.kind
        else:
            outcomes[name] = "ok" if _open(made).format == "JPEG" else "not a JPEG"
    assert outcomes == expected


def test_limits_are_obeyed(tmp_path: Path) -> None:
    path = write_image(tmp_path / "big.png", render_scene(400, 300, seed=2))
    with pytest.raises(TooLarge):
        make_thumbnail(path, limits=MediaLimits(max_pixels=100_000))
    with pytest.raises(TooLarge):
        make_thumbnail(path, limits=MediaLimits(max_image_bytes=1000))
    video = write_video(tmp_path / "clip.mp4", seconds=2.0)
    with pytest.raises(TooLarge):
        make_thumbnail(video, limits=MediaLimits(max_video_pixels=10_000))
    with pytest.raises(NotAFile):
        make_thumbnail(tmp_path / "missing.jpg")


def test_the_isolated_thumbnailer_survives_bad_files(tmp_path: Path) -> None:
    good = write_image(tmp_path / "good.jpg", render_scene(640, 480, seed=8))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(jpeg_bytes(3)[:3000])
    thumbnailer = Thumbnailer(MediaLimits(), max_side=200)
    try:
        with pytest.raises(Corrupt):
            thumbnailer.make(bad)
        assert _open(thumbnailer.make(good)).size == (200, 150)
    finally:
        thumbnailer.close()


# -- the blurred preview -------------------------------------------------------------------


def _high_frequency(grey: np.ndarray) -> float:
    """The share of the picture's energy (windowed spectrum, mean removed) in detail finer
    than 1/16 of a cycle per pixel: edges and texture have plenty, a heavy blur next to none."""
    values = grey.astype(np.float64)
    values -= values.mean()
    values *= np.outer(np.hanning(values.shape[0]), np.hanning(values.shape[1]))
    power = np.abs(np.fft.fft2(values)) ** 2
    fy = np.abs(np.fft.fftfreq(values.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(values.shape[1]))[None, :]
    return float(power[np.maximum(fy, fx) > 1 / 16].sum() / power.sum())


@pytest.mark.parametrize("seed", range(6))
def test_the_preview_is_grey_blurred_and_matches_nothing(tmp_path: Path, seed: int) -> None:
    path = write_image(tmp_path / "scene.jpg", render_scene(640, 480, seed=40 + seed))
    thumb = make_thumbnail(path)
    preview = _open(blurred_preview(thumb))
    assert preview.mode == "L"
    assert preview.size == (160, 120)

    original = np.asarray(_open(thumb).convert("L").resize(preview.size))
    blurred = np.asarray(preview)
    assert _high_frequency(blurred) < 0.005
    assert _high_frequency(original) > 0.04
    assert _high_frequency(blurred) < _high_frequency(original) / 20

    as_rgb = np.asarray(preview.convert("RGB").resize((320, 240)))
    assert _distance(as_rgb, _pixels(thumb)) > PDQ_THRESHOLD * 2


def test_preview_of_a_png_and_its_side(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.fromarray(render_scene(90, 300, seed=9)).save(out, "PNG")
    preview = _open(blurred_preview(out.getvalue(), side=200))
    assert preview.size == (60, 200)
    assert preview.mode == "L"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyFile),
        (b"this is not a picture at all", UnsupportedType),
        (b"GIF89a" + b"\0" * 100, UnsupportedType),
        (jpeg_bytes(5)[:600], Corrupt),
        (b"\xff\xd8\xff\xe0 broken" * 20, Corrupt),
        (png_declaring(100_000, 100_000), TooLarge),
        (png_declaring(5000, 5000), TooLarge),
    ],
)
def test_bad_stored_bytes_get_a_typed_error(data: bytes, error: type[MediaError]) -> None:
    with pytest.raises(error):
        blurred_preview(data)
