"""Crops and small turns, found through anchored regions by the real matcher, and
pictures that share only part of a banked one, refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from reclaim.banks.match import Match
from reclaim.banks.matcher import BankMatcher
from reclaim.evaluation.corpus import Picture, scene, smooth_field
from reclaim.evaluation.measure import matcher_over, picture_rows
from reclaim.evaluation.transforms import screenshot
from reclaim.matching import query_signal
from reclaim.matching.anchored import (
    AnchoredEvidence,
    Frame,
    Similarity,
    best_placement,
    check_placement,
    refine,
)
from reclaim.signals.pdq import PdqSignal, pdq_from_rgb

PHOTOS = {
    "coffee": data.coffee(),
    "astronaut": data.astronaut(),
    "chelsea": data.chelsea(),
    "motorcycle": data.stereo_motorcycle()[0],
}


@pytest.fixture(scope="module")
def matcher() -> BankMatcher:
    return matcher_over(picture_rows([Picture(n, rgb, "photo") for n, rgb in PHOTOS.items()]))


def _found(matcher: BankMatcher, rgb: np.ndarray) -> dict[str, Match]:
    return {m.item: m for m in matcher.match([query_signal(rgb)])}


def _crop(rgb: np.ndarray, share: float, where: float) -> np.ndarray:
    """Cut ``share`` of the width and of the height, ``where`` of it from the top left."""
    height, width = rgb.shape[:2]
    cut_y, cut_x = round(height * share), round(width * share)
    top, left = round(cut_y * where), round(cut_x * where)
    return np.ascontiguousarray(rgb[top : height - (cut_y - top), left : width - (cut_x - left)])


CROPS = [
    pytest.param(
        name,
        share,
        where,
        marks=[
            pytest.mark.xfail(
                strict=True,
                reason="half the picture left; none of its banked anchor pairs lie in it",
            )
        ]
        if (name, share, where) == ("motorcycle", 0.3, 1.0)
        else [],
    )
    for name in sorted(PHOTOS)
    for share, where in [(0.1, 0.0), (0.2, 0.5), (0.3, 1.0), (0.25, 0.3)]
]


@pytest.mark.parametrize(("name", "share", "where"), CROPS)
def test_crops_are_found_with_their_placement(
    matcher: BankMatcher, name: str, share: float, where: float
) -> None:
    copy = _crop(PHOTOS[name], share, where)
    assert pdq_from_rgb(copy).value != pdq_from_rgb(PHOTOS[name]).value
    found = _found(matcher, copy)
    assert set(found) == {name}
    match = found[name]
    assert match.extra["region"] == "anchored"
    assert match.extra["inliers"] >= 2
    assert match.extra["regions_matched"] >= 1
    placement = match.extra["placement"]
    # Banked working pixels (1/256 of the banked picture's longer side) to query pixels.
    assert placement["scale"] == pytest.approx(max(PHOTOS[name].shape[:2]) / 256, rel=0.02)
    assert abs(placement["degrees"]) < 1.5


@pytest.mark.parametrize("name", sorted(PHOTOS))
@pytest.mark.parametrize("angle", [-8.0, -3.0, 2.0, 6.0])
@pytest.mark.parametrize("corners", [True, False])
def test_small_turns_are_found(
    matcher: BankMatcher, name: str, angle: float, corners: bool
) -> None:
    image = Image.fromarray(PHOTOS[name])
    turned = image.rotate(angle, Image.Resampling.BICUBIC, expand=corners)
    if not corners:  # cut to the upright rectangle inside, as phone editors straighten
        width, height = image.size
        radians = np.radians(abs(angle))
        factor = min(
            width / (width * np.cos(radians) + height * np.sin(radians)),
            height / (width * np.sin(radians) + height * np.cos(radians)),
        )
        w, h = int(width * factor), int(height * factor)
        turned = turned.crop(
            ((width - w) // 2, (height - h) // 2, (width + w) // 2, (height + h) // 2)
        )
    found = _found(matcher, np.asarray(turned.convert("RGB")))
    assert set(found) == {name}
    match = found[name]
    assert match.extra["region"] == "anchored"
    # PIL turns counter-clockwise on screen; the placement maps banked to query pixels.
    assert match.extra["placement"]["degrees"] == pytest.approx(-angle, abs=1.5)


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_mirrored_crops_are_found_as_mirrored(matcher: BankMatcher, name: str) -> None:
    copy = np.ascontiguousarray(_crop(PHOTOS[name], 0.2, 0.3)[:, ::-1])
    found = _found(matcher, copy)
    assert set(found) == {name}
    assert (found[name].extra["region"], found[name].extra["variant"]) == ("anchored", "flipy")


def test_mirrored_copies_inside_bars_are_found() -> None:
    photo = PHOTOS["chelsea"]
    matcher = matcher_over(picture_rows([Picture("chelsea", photo, "photo")]))
    framed = np.zeros((photo.shape[0] + 200, photo.shape[1], 3), np.uint8)
    framed[100:-100] = photo[:, ::-1]
    (match,) = matcher.match([query_signal(framed)])
    assert (match.extra["region"], match.extra["variant"]) == ("content", "flipy")


def test_the_same_room_with_someone_else_in_it_is_refused() -> None:
    """Scenes sharing a background (about half of each picture) give anchored regions
    that match and a consistent placement; the cells they hold disagree."""
    background = data.brick()
    background = np.ascontiguousarray(np.stack([background] * 3, axis=2))
    banked = [
        Picture(f"scene-{k}", scene(background, smooth_field(100 + k, (300, 240)), seed=k), "scene")
        for k in range(6)
    ]
    matcher = matcher_over(picture_rows(banked))
    for k in range(6, 12):
        other = scene(background, smooth_field(100 + k, (300, 240)), seed=k)
        assert matcher.match([query_signal(other)]) == []
        assert matcher.match([query_signal(_crop(other, 0.2, 0.5))]) == []
    (match,) = matcher.match([query_signal(_crop(banked[2].rgb, 0.2, 0.5))])
    assert match.item == "scene-2"


def test_unrelated_photos_match_nothing(matcher: BankMatcher) -> None:
    for rgb in (data.hubble_deep_field(), data.immunohistochemistry(), data.rocket()):
        for copy in (rgb, _crop(rgb, 0.2, 0.5)):
            assert matcher.match([query_signal(np.ascontiguousarray(copy[..., :3]))]) == []


def test_withdrawn_items_are_no_longer_found_by_their_regions() -> None:
    photo = PHOTOS["astronaut"]
    rows = list(picture_rows([Picture("astronaut", photo, "photo")]))
    matcher = matcher_over(rows)
    copy = _crop(photo, 0.2, 0.5)
    assert [m.item for m in matcher.match([query_signal(copy)])] == ["astronaut"]
    matcher.remove(matcher.item_ids(["item-1"]))
    assert matcher.match([query_signal(copy)]) == []
    matcher.add(rows)
    assert [m.item for m in matcher.match([query_signal(copy)])] == ["astronaut"]


def test_hash_only_queries_skip_the_anchored_search(matcher: BankMatcher) -> None:
    copy = _crop(PHOTOS["coffee"], 0.2, 0.5)
    signal = query_signal(copy)
    assert matcher.match([PdqSignal(signal.value, signal.quality, grid=signal.grid)]) == []


def test_similarity_fits_and_refines() -> None:
    rng = np.random.default_rng(4)
    truth = Similarity(1.2 * np.cos(0.1), 1.2 * np.sin(0.1), 30.0, -12.0)
    banked = rng.uniform(0, 256, (12, 2))
    query = truth.apply(banked) + rng.normal(0, 0.2, (12, 2))
    fitted = Similarity.fit(banked, query)
    assert fitted.scale == pytest.approx(1.2, abs=0.01)
    assert fitted.degrees == pytest.approx(np.degrees(0.1), abs=0.2)
    rough = Similarity(truth.a * 1.01, truth.b, truth.tx + 1.5, truth.ty)
    better, agreeing, _ = refine(
        rough, banked, np.concatenate([query, rng.uniform(0, 300, (5, 2))])
    )
    assert len(agreeing) == 12
    assert np.abs(better.apply(banked) - query).max() < 1.0
    pairs_b = np.concatenate([banked[:4].reshape(2, 4), [[0.0, 0.0, 50.0, 0.0]]])
    pairs_q = np.concatenate([query[:4].reshape(2, 4), [[10.0, 10.0, 10.0, 60.0]]])
    placement, agreeing = best_placement(pairs_b, pairs_q)
    assert agreeing == 2
    assert placement.scale == pytest.approx(1.2, abs=0.05)


@pytest.mark.parametrize(
    "query_pairs",
    [
        [[0.0, 0.0, 1e9, 0.0]],  # a placement far larger than any copy
        [[5.0, 5.0, 5.0, 5.0]],  # both anchors on one point: scale 0
        [[np.nan, 0.0, 10.0, 10.0]],
    ],
)
def test_absurd_placements_are_refused_without_touching_pixels(query_pairs: list) -> None:
    luma = np.random.default_rng(2).random((120, 160)).astype(np.float32) * 255
    frame = Frame(luma, np.array([[10.0, 10.0], [100.0, 50.0]]), "original")
    codes = np.zeros((9, 32), np.uint8)
    evidence = check_placement(
        frame,
        np.array([[10.0, 10.0, 100.0, 60.0]]),
        np.array(query_pairs, np.float64),
        np.array([[10.0, 10.0], [100.0, 60.0]]),
        np.zeros(32, np.uint8),
        codes,
        np.ones(9, bool),
        (640, 480),
        31,
    )
    assert not evidence.accepted
    assert evidence.compared == 0


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_a_texture_shown_in_a_phone_app_is_found_through_the_view(seed: int) -> None:
    """A brick wall in a phone screenshot: the picture found inside the app chrome, hashed
    at its own size (scaled up from 512 to 720 pixels, then the screenshot reduced), is
    30-40 bits from the banked PDQ -- a texture aliases differently at each size -- and
    (for these app layouts) its grid cells too. Its anchored regions, analysed inside the
    view, place it; the banked frame rebuilt at the banked size is within a few bits."""
    brick = np.repeat(data.brick()[:, :, None], 3, axis=2)
    matcher = matcher_over(picture_rows([Picture("brick", brick, "photo")]))
    _, shot = screenshot(brick, np.random.default_rng(seed))
    (match,) = matcher.match([query_signal(shot)])
    assert match.item == "brick"
    assert match.extra["region"] == "anchored"
    assert match.extra["placement"]["degrees"] == pytest.approx(0.0, abs=0.5)


@pytest.mark.parametrize(
    ("regions", "whole", "compared", "agreeing", "accepted"),
    [
        (2, None, 2, 1, True),  # placed by two regions: half the cells agreeing is enough
        (2, 10, 0, 0, True),  # the whole frame held and matching
        (2, None, 3, 1, False),  # most cells disagree
        (2, None, 0, 0, False),  # nothing compared
        # One region alone fits its placement exactly: it needs more from the cells (a
        # rotated copy of one flat shapes picture placed another this way, two cells
        # compared and one agreeing).
        (1, None, 2, 1, False),
        (1, None, 3, 2, True),
        (1, 10, 0, 0, False),
        (1, 10, 2, 1, True),
    ],
)
def test_thin_placements_need_more_agreement(
    regions: int, whole: int | None, compared: int, agreeing: int, accepted: bool
) -> None:
    evidence = AnchoredEvidence(regions, 2, whole, compared, agreeing, 31, 1.0, 0.0)
    assert evidence.accepted is accepted
