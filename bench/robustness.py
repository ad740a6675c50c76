"""Robust matching: recall per edit family and false matches, robust path vs plain PDQ.

Banks every distinct picture of the evaluation corpus (scikit-image photos and tiles,
reference photo and video frames, generated fields, text pages, scenes on shared
backgrounds, shapes), looks up transformed copies of the real pictures and of some
generated ones, and every distinct picture itself. Prints recall per family for plain PDQ
(the picture's own hash at distance 31) and for Reclaim's query path, the false-match
count of each, storage per banked item, and the query time of the robust path relative to
plain PDQ with 100,000 items banked (measured in the same run).

    python bench/robustness.py [--per-family 2] [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from reclaim.banks.service import SignalRow
from reclaim.evaluation.corpus import Picture, distinct_pictures
from reclaim.evaluation.measure import (
    FAMILY_NAMES,
    Report,
    bank_matcher,
    evaluate,
    matcher_over,
    picture_rows,
    plain_query,
    source_copies,
)
from reclaim.evaluation.transforms import Copy
from reclaim.matching import query_signal
from reclaim.signals.pdq_anchors import AnchoredRegion, regions_to_json
from reclaim.signals.pdq_grid import GRID_CELLS, Grid

REFERENCE = Path(
    os.environ.get("RECLAIM_REFERENCE_DIR", Path(__file__).parents[2] / "shared" / "reference")
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-family", type=int, default=2)
    parser.add_argument("--generated-sources", type=int, default=40)
    parser.add_argument("--scale-items", type=int, default=100_000)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()

    pictures = distinct_pictures(REFERENCE if REFERENCE.exists() else None)
    real = [p for p in pictures if p.family in ("photo", "tile", "video")]
    generated = [p for p in pictures if p not in real][: args.generated_sources]
    sources = real + generated
    pairs = list(source_copies(sources, args.per_family))
    print(
        f"{len(pictures)} distinct pictures banked; {len(sources)} sources, "
        f"{len(pairs)} transformed copies"
    )
    matcher = bank_matcher(pictures)
    plain = evaluate(matcher, plain_query, pictures, pairs)
    robust = evaluate(matcher, query_signal, pictures, pairs)
    _table(plain, robust)
    if args.show_misses:
        for miss in robust.misses:
            print(f"  missed {miss.source:24s} {miss.family:10s} {miss.detail}")
    for false in robust.false_matches:
        print(f"  FALSE MATCH {false.query} -> {false.found} {false.evidence}")
    _timing(pictures, pairs, args.scale_items)
    return 0


def _table(plain: Report, robust: Report) -> None:
    print(f"{'family':12s} {'copies':>6s} {'plain PDQ':>9s} {'Reclaim':>8s}")
    for family in FAMILY_NAMES:
        print(
            f"{family:12s} {robust.tried[family]:6d} {plain.recall(family):9.3f} "
            f"{robust.recall(family):8.3f}"
        )
    print(
        f"{'overall':12s} {sum(robust.tried.values()):6d} {plain.recall():9.3f} "
        f"{robust.recall():8.3f}"
    )
    worst = min(FAMILY_NAMES, key=robust.recall)
    print(f"worst family: {worst} {robust.recall(worst):.3f} (target >= 0.95; overall >= 0.98)")
    print(
        f"false matches: plain {len(plain.false_matches)}, Reclaim "
        f"{len(robust.false_matches)} (target 0)"
    )


def _timing(pictures: list[Picture], pairs: list[tuple[Picture, Copy]], scale_items: int) -> None:
    rows = list(picture_rows(pictures))
    stored = sum(len(row.value) // 2 + _grid_bytes(row) for row in rows) / len(rows)
    rng = np.random.default_rng(5)

    regions = round(np.mean([len(Grid.from_json(json.loads(row.grid)).anchored) for row in rows]))

    def random_grid() -> str:
        cells = [{"value": rng.bytes(32).hex(), "quality": 100} for _ in GRID_CELLS]
        anchored = regions_to_json(  # packed, as the database holds them
            [
                AnchoredRegion(rng.bytes(32).hex(), 100, (10.0, 20.0, 110.0, 90.0))
                for _ in range(regions)
            ]
        )
        return json.dumps({"cells": cells, "size": [640, 480], "anchored": anchored})

    matcher = matcher_over(
        SignalRow(i, i, f"r{i}", f"r{i}", 1, "pdq", rng.bytes(32).hex(), 100, random_grid())
        for i in range(scale_items)
    )
    queries = [copy.rgb for _, copy in pairs[:: max(1, len(pairs) // 200)]]
    timings = {}
    for name, query in (("plain", plain_query), ("robust", query_signal)):
        for rgb in queries[:5]:
            matcher.match([query(rgb)])  # warm up (numba, caches)
        start = time.perf_counter()
        for rgb in queries:
            matcher.match([query(rgb)])
        timings[name] = (time.perf_counter() - start) / len(queries)
    print(f"storage per banked item: {stored:.0f} B of hashes and qualities (plain PDQ: 32 B)")
    print(
        f"query time at {scale_items:,} items, from decoded pixels: plain "
        f"{timings['plain'] * 1e3:.2f} ms, robust {timings['robust'] * 1e3:.2f} ms, "
        f"ratio {timings['robust'] / timings['plain']:.1f}x (target <= 10x)"
    )


def _grid_bytes(row: SignalRow) -> int:
    """Bytes of a stored grid, packed: 32 per cell and one for its quality, 4 for the
    size, and per anchored region 32 + 1 and its anchors (4 x 16-bit fixed point)."""
    if not row.grid:
        return 0
    grid = Grid.from_json(json.loads(row.grid))
    return 33 * len(grid.cells) + 4 + 41 * len(grid.anchored)


if __name__ == "__main__":
    sys.exit(main())
