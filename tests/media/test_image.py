"""Image decoding: orientation, alpha, bit depth, colour models, animation, draft mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reclaim.demo.media import render_scene
from reclaim.media import MediaFormat, MediaLimits, Sampling, decode_image, iter_animation_frames
from reclaim.media.image import HASH_MIN_SIDE
from reclaim.signals import PdqSignalType, pdq_from_rgb

LIMITS = MediaLimits()


def _distance(a: np.ndarray, b: np.ndarray) -> int:
    return PdqSignalType.distance(pdq_from_rgb(a).value, pdq_from_rgb(b).value)


@pytest.mark.parametrize(
    ("orientation", "stored_as"),
    [  # how a camera stores an upright scene for each EXIF orientation tag
        (2, Image.Transpose.FLIP_LEFT_RIGHT),
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_is_applied(
    tmp_path: Path, orientation: int, stored_as: Image.Transpose
) -> None:
    upright = Image.fromarray(render_scene(300, 200, seed=1))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "oriented.jpg"
    upright.transpose(stored_as).save(path, quality=95, exif=exif)
    decoded = decode_image(path, MediaFormat.JPEG, LIMITS)
    assert decoded.rgb.shape == (200, 300, 3)
    assert _distance(decoded.rgb, np.asarray(upright)) <= 10


@pytest.mark.parametrize("orientation", [0, 9, 255, 65535])
def test_bogus_orientation_leaves_the_image_as_stored(tmp_path: Path, orientation: int) -> None:
    picture = Image.fromarray(render_scene(300, 200, seed=2))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "bogus.jpg"
    picture.save(path, quality=95, exif=exif)
    decoded = decode_image(path, MediaFormat.JPEG, LIMITS)
    assert decoded.rgb.shape == (200, 300, 3)


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((50, 60, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 30:, 3] = 255  # right half opaque red-ish, left half fully transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    rgb = decode_image(path, MediaFormat.PNG, LIMITS).rgb
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[0, 59].tolist() == [200, 0, 0]


def test_palette_transparency_is_composited_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (10, 0, 20, 20))
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    rgb = decode_image(path, MediaFormat.PNG, LIMITS).rgb
    assert rgb[5, 5].tolist() == [255, 255, 255]
    assert rgb[5, 15].tolist() == [255, 0, 0]


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    rgb = decode_image(path, MediaFormat.PNG, LIMITS).rgb
    assert rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[0, 255].tolist() == [255, 255, 255]
    assert 120 <= rgb[0, 128, 0] <= 135  # the middle of the ramp is mid-grey, not white


def test_cmyk_jpeg_converts_to_rgb(tmp_path: Path) -> None:
    source = render_scene(200, 150, seed=4)
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(source).convert("CMYK").save(path, quality=95)
    rgb = decode_image(path, MediaFormat.JPEG, LIMITS).rgb
    assert _distance(rgb, source) <= 16


def test_animated_gif_frames_and_timestamps(tmp_path: Path) -> None:
    frames = [Image.fromarray(render_scene(80, 60, seed=s)) for s in range(5)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[500, 500, 0, 250, 250])
    decoded = decode_image(path, MediaFormat.GIF, LIMITS)
    assert decoded.animated
    assert decoded.frame_count == 5
    every = list(iter_animation_frames(path, MediaFormat.GIF, LIMITS, Sampling.every_frame()))
    # A 0 ms delay is shown for 100 ms, as browsers do.
    assert [f.ts for f in every] == [0.0, 0.5, 1.0, 1.1, 1.35]
    sampled = list(iter_animation_frames(path, MediaFormat.GIF, LIMITS, Sampling(fps=1.0)))
    assert [f.ts for f in sampled] == [0.0, 1.0]
    assert _distance(every[3].rgb, np.asarray(frames[3].convert("RGB"))) <= 24


def test_draft_mode_decodes_at_reduced_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.fromarray(render_scene(2400, 1600, seed=9)).save(path, quality=90)
    full = decode_image(path, MediaFormat.JPEG, LIMITS)
    draft = decode_image(path, MediaFormat.JPEG, LIMITS, draft_min_side=256)
    assert full.rgb.shape == (1600, 2400, 3)
    assert draft.rgb.shape == (400, 600, 3)  # 1/4 scale keeps the short side >= 256
    assert draft.stored_size == (2400, 1600)
    assert _distance(full.rgb, draft.rgb) <= 16


def test_very_large_images_are_box_reduced_for_hashing(tmp_path: Path) -> None:
    side = HASH_MIN_SIDE * 2
    path = tmp_path / "huge.png"
    source = render_scene(side + 100, side, seed=3)
    Image.fromarray(source).save(path)
    decoded = decode_image(path, MediaFormat.PNG, LIMITS)
    assert decoded.rgb.shape == (side // 2, (side + 100) // 2, 3)
    assert _distance(decoded.rgb, source) <= 4
