"""Transformed copies are found through the real matcher; distinct pictures never match.

A reduced run of ``bench/robustness.py``: one copy per edit family of each real picture,
against all 500+ distinct pictures banked. The families asserted here are the ones the
query side handles today (rotations/mirrors, bars, padding and app chrome, and what plain
PDQ already survives); crops, small rotations, overlays and small scales wait for the
bank-side region hashes of issue #4 and are only required not to get worse.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reclaim.evaluation.corpus import Picture, distinct_pictures
from reclaim.evaluation.measure import Report, bank_matcher, evaluate, plain_query, source_copies
from reclaim.matching import query_signal

# Floors a little under what this subset measured when they were set (robust path):
# mirror 0.96, bars 0.78 (blurred bars that keep structure; a white page in white bars),
# screenshot 0.85 (a texture, a flat graphic, a text page), jpeg/colour/grayscale 1.0,
# blur 0.89. The bench's targets (0.95 in every family) are not met yet: see #4's notes.
FLOORS = {
    "mirror": 0.95,
    "bars": 0.75,
    "screenshot": 0.8,
    "jpeg": 0.9,
    "colour": 0.9,
    "grayscale": 0.9,
    "blur": 0.85,
}


def _symmetric_layout(picture: Picture) -> bool:
    """The retina photo's four tiles are each other's mirror images in layout (a dark
    corner, a bright arc): see test_mirror_symmetric_tiles_are_told_apart."""
    return picture.name.startswith("retina")


@pytest.fixture(scope="module")
def corpus(reference: Path) -> list[Picture]:
    return distinct_pictures(reference)


@pytest.fixture(scope="module")
def reports(corpus: list[Picture]) -> tuple[Report, Report]:
    pictures = [p for p in corpus if not _symmetric_layout(p)]
    sources = [p for p in pictures if p.family in ("photo", "tile", "video")][::2]
    sources += [p for p in pictures if p.family in ("field", "scene", "text")][:6]
    pairs = list(source_copies(sources, per_family=1))
    matcher = bank_matcher(pictures)
    return (
        evaluate(matcher, plain_query, pictures, pairs),
        evaluate(matcher, query_signal, pictures, pairs),
    )


def test_no_distinct_pictures_match_each_other(reports: tuple[Report, Report]) -> None:
    _, robust = reports
    assert robust.false_matches == []


@pytest.mark.parametrize("family", sorted(FLOORS))
def test_recall_of_the_handled_families(reports: tuple[Report, Report], family: str) -> None:
    plain, robust = reports
    assert robust.recall(family) >= FLOORS[family], [m for m in robust.misses if m.family == family]
    assert robust.recall(family) >= plain.recall(family)


def test_no_family_gets_worse_than_plain_pdq(reports: tuple[Report, Report]) -> None:
    plain, robust = reports
    for family in plain.tried:
        assert robust.recall(family) >= plain.recall(family), family
    assert plain.recall("mirror") == 0.0  # what the query side adds is real
    assert plain.recall("screenshot") == 0.0


@pytest.mark.xfail(
    strict=True,
    reason="open in #4: a tile's rotation can look like another tile of the same round "
    "photo at 14-30 bits; telling them apart needs bank-side region hashes (verification)",
)
def test_mirror_symmetric_tiles_are_told_apart(corpus: list[Picture]) -> None:
    tiles = [p for p in corpus if _symmetric_layout(p)]
    report = evaluate(bank_matcher(tiles), query_signal, tiles, [])
    assert report.false_matches == []
