"""Transformed copies are found through the real matcher; distinct pictures never match.

A reduced run of ``bench/robustness.py``: one copy per edit family of each real picture,
against all 500+ distinct pictures banked with their grids and anchored regions. Every
family has a floor a little under what this subset measured; combined edits (two or three
at once) are only required not to get worse than plain PDQ.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reclaim.evaluation.corpus import Picture, Rgb, distinct_pictures
from reclaim.evaluation.measure import (
    Report,
    bank_matcher,
    evaluate,
    evaluate_in_parallel,
    matcher_over,
    picture_rows,
    plain_query,
    source_copies,
)
from reclaim.matching import query_signal
from reclaim.signals.pdq import PdqSignal, pdq_from_rgb

# Floors a little under what this subset measured when they were set (robust path):
# mirror 0.96, bars 0.89 (blurred bars around a picture of an uncommon shape),
# screenshot 0.89 (a texture, a flat graphic, a text page), jpeg/colour/grayscale/blur
# 0.96, scale 0.93, text 0.93, logo 0.93, crop 0.81 and rotate 0.81 (anchored regions:
# generated pictures with few anchors, crops that leave none of the banked pairs). The
# bench's targets (0.95 in every family) are not met yet: see #4's notes.
FLOORS = {
    "mirror": 0.95,
    "bars": 0.85,
    "screenshot": 0.85,
    "jpeg": 0.9,
    "colour": 0.9,
    "grayscale": 0.9,
    "blur": 0.9,
    "scale": 0.85,
    "text": 0.85,
    "logo": 0.85,
    "crop": 0.75,
    "rotate": 0.75,
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
    rows = list(picture_rows(pictures))
    # The robust lookups (placing anchored regions) take minutes: one process per core.
    return (
        evaluate(matcher_over(rows), plain_query, pictures, pairs),
        evaluate_in_parallel(rows, query_signal, pictures, pairs, workers=os.cpu_count() or 1),
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


def test_mirror_symmetric_tiles_are_told_apart(corpus: list[Picture]) -> None:
    """The retina photo's tiles: each tile turned is within 14-30 bits of another, whole.
    Their grids disagree, and that vetoes the match (the bench's larger run still finds
    two such copies whose grids have at most one cell either side can hash)."""
    tiles = [p for p in corpus if _symmetric_layout(p)]
    plain = evaluate(bank_matcher(tiles), _dihedral_only, tiles, [])
    assert plain.false_matches  # what the grid has to overrule is there
    report = evaluate(bank_matcher(tiles), query_signal, tiles, source_copies(tiles, 1))
    assert report.false_matches == []
    assert report.recall("mirror") == 1.0


def _dihedral_only(rgb: Rgb) -> PdqSignal:
    signal = pdq_from_rgb(rgb, dihedral=True)
    return PdqSignal(signal.value, signal.quality, signal.dihedral)
