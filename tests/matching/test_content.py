"""Finding the picture inside bars and padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from reclaim.demo.media import render_scene
from reclaim.matching.content import Box, aspect_boxes, content_box, picture_boxes
from reclaim.signals import PdqSignalType, pdq_from_rgb

PICTURE = render_scene(400, 300, seed=3)


def _letterbox(colour: int) -> np.ndarray:
    out = np.full((500, 400, 3), colour, np.uint8)
    out[100:400] = PICTURE
    return out


def _pillarbox() -> np.ndarray:
    out = np.full((300, 640, 3), 255, np.uint8)
    out[:, 120:520] = PICTURE
    return out


def _blurred_bars() -> np.ndarray:
    enlarged = Image.fromarray(PICTURE).resize((400, 700)).filter(ImageFilter.GaussianBlur(25))
    out = np.asarray(enlarged).copy()
    out[200:500] = PICTURE
    return out


@pytest.mark.parametrize(
    ("framed", "box"),
    [
        (_letterbox(0), Box(100, 400, 0, 400)),
        (_letterbox(255), Box(100, 400, 0, 400)),
        (_pillarbox(), Box(0, 300, 120, 520)),
        (_blurred_bars(), Box(200, 500, 0, 400)),
    ],
    ids=["black-letterbox", "white-letterbox", "white-pillarbox", "blurred-bars"],
)
def test_bars_are_found_and_the_picture_hashes_as_itself(framed: np.ndarray, box: Box) -> None:
    found = content_box(framed)
    assert found is not None
    for got, expected in zip(
        (found.top, found.bottom, found.left, found.right),
        (box.top, box.bottom, box.left, box.right),
        strict=True,
    ):
        assert abs(got - expected) <= 2
    whole = pdq_from_rgb(framed).value
    inner = pdq_from_rgb(found.crop(framed)).value
    original = pdq_from_rgb(PICTURE).value
    assert PdqSignalType.distance(whole, original) > 31
    assert PdqSignalType.distance(inner, original) <= 8


def test_pictures_without_bars_are_left_alone(reference: Path) -> None:
    assert content_box(PICTURE) is None
    for path in sorted((reference / "pdq").glob("*.jpg")):
        assert content_box(np.asarray(Image.open(path).convert("RGB"))) is None, path.name


@pytest.mark.parametrize(
    "rgb",
    [np.zeros((300, 300, 3), np.uint8), np.zeros((20, 20, 3), np.uint8), PICTURE[:, :10]],
    ids=["all-flat", "tiny", "sliver"],
)
def test_degenerate_images_give_no_box(rgb: np.ndarray) -> None:
    assert content_box(rgb) is None


def _phone(picture: np.ndarray, dark: bool) -> np.ndarray:
    rng = np.random.default_rng(4 if dark else 5)
    from reclaim.evaluation.transforms import screenshot

    while True:  # draw until the mock has the requested theme
        detail, rgb = screenshot(picture, rng)
        if detail.startswith("dark" if dark else "light"):
            return rgb


@pytest.mark.parametrize("dark", [False, True], ids=["light-app", "dark-app"])
def test_a_picture_in_a_phone_screenshot_is_found(dark: bool) -> None:
    shot = _phone(PICTURE, dark)
    original = pdq_from_rgb(PICTURE).value
    assert PdqSignalType.distance(pdq_from_rgb(shot).value, original) > 31
    boxes = picture_boxes(shot)
    assert boxes
    assert (
        min(PdqSignalType.distance(pdq_from_rgb(b.crop(shot)).value, original) for b in boxes) <= 16
    )


@pytest.mark.parametrize("side", ["top", "bottom", "left", "right"])
def test_one_sided_padding_is_trimmed_exactly(side: str) -> None:
    height, width = PICTURE.shape[:2]
    pad = {
        "top": (90, 0, 0, 0),
        "bottom": (0, 90, 0, 0),
        "left": (0, 0, 70, 0),
        "right": (0, 0, 0, 70),
    }[side]
    out = np.full((height + pad[0] + pad[1], width + pad[2] + pad[3], 3), 250, np.uint8)
    out[pad[0] : pad[0] + height, pad[2] : pad[2] + width] = PICTURE
    assert content_box(out) is None  # not symmetric: not bars
    expected = Box(pad[0], pad[0] + height, pad[2], pad[2] + width)
    assert expected in picture_boxes(out)


def test_photos_and_text_pages_are_not_cut_into(reference: Path) -> None:
    from reclaim.evaluation.corpus import text_page

    assert picture_boxes(PICTURE) == []
    assert picture_boxes(text_page(3)) == []  # blank lines between text lines: no picture
    for path in sorted((reference / "pdq").glob("*.jpg")):
        assert picture_boxes(np.asarray(Image.open(path).convert("RGB"))) == [], path.name


def _dark_picture() -> np.ndarray:
    """A night shot: a lit subject on a black background reaching every edge."""
    out = np.zeros((300, 400, 3), np.uint8)
    out[60:240, 110:290] = render_scene(180, 180, seed=6)
    return out


def test_bars_merging_into_the_picture_are_found_by_its_shape() -> None:
    dark = _dark_picture()
    framed = np.zeros((560, 400, 3), np.uint8)
    framed[130:430] = dark  # black bars on a black background: no edge to find
    assert content_box(framed) != Box(130, 430, 0, 400)  # (it finds the lit subject)
    boxes = aspect_boxes(framed)
    assert Box(130, 430, 0, 400) in boxes  # 4:3, centred
    pillared = np.zeros((300, 700, 3), np.uint8)
    pillared[:, 150:550] = dark
    assert Box(0, 300, 150, 550) in aspect_boxes(pillared)


def test_shapes_are_only_tried_when_opposite_edges_are_flat(reference: Path) -> None:
    assert aspect_boxes(PICTURE) == []
    for path in sorted((reference / "pdq").glob("*.jpg")):
        assert aspect_boxes(np.asarray(Image.open(path).convert("RGB"))) == [], path.name
