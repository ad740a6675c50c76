"""The PDQ index returns exactly the brute-force result: no id missing, none extra."""

from __future__ import annotations

import numpy as np
import pytest

from reclaim.index import MihParams, PdqIndex, brute_force_search

from .conftest import PLANTED_DISTANCES, AlwaysTables, Planted, assert_same, flip_bits

RADII = [0, 8, 31, 32, 40, 70]

LAYOUTS = {
    "auto": None,  # what the index picks for 100k codes
    "tables-always": AlwaysTables(tables=11, bits=17, block_bits=5),
    "short-substrings": AlwaysTables(tables=16, bits=16, block_bits=4),  # HMA's split
    "long-substrings": AlwaysTables(tables=10, bits=24, block_bits=8),
    "uneven-bits": AlwaysTables(tables=7, bits=13, block_bits=0),  # 91 of 256 bits used
    "scan-only": MihParams.scan_only(),
}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def index(request: pytest.FixtureRequest, planted: Planted) -> PdqIndex:
    return PdqIndex.build(planted.codes, planted.ids, LAYOUTS[request.param])


@pytest.mark.parametrize("radius", RADII)
def test_search_equals_brute_force(index: PdqIndex, planted: Planted, radius: int) -> None:
    for query in planted.queries:
        assert_same(index.search(query, radius), planted.expected(query, radius))


def test_planted_codes_are_found_at_every_distance(planted: Planted) -> None:
    index = PdqIndex.build(planted.codes, planted.ids)
    for query in planted.queries[:4]:
        _, distances = index.search(query, 40)
        assert set(PLANTED_DISTANCES) <= set(distances.tolist())
        _, distances = index.search(query, 31)
        assert distances.max() == 31
        assert set(range(32)) <= set(distances.tolist())


def test_batch_equals_single_queries(planted: Planted) -> None:
    index = PdqIndex.build(planted.codes, planted.ids, workers=2)
    queries = np.concatenate([planted.queries, planted.codes[:40]])
    batch = index.search_batch(queries, 31)
    assert len(batch) == len(queries)
    for query, found in zip(queries, batch, strict=True):
        assert_same(found, index.search(query, 31))
    assert index.search_batch(queries[:0], 31) == []


def test_every_radius_on_a_small_index() -> None:
    rng = np.random.default_rng(7)
    centre = rng.integers(0, 256, 32, dtype=np.uint8)
    codes = np.array([flip_bits(rng, centre, k) for k in range(257) for _ in range(3)])
    ids = np.arange(len(codes), dtype=np.int64) * -3
    index = PdqIndex.build(codes, ids, AlwaysTables(tables=8, bits=12, block_bits=3))
    for radius in [*range(0, 66), 128, 255, 256, 1000]:
        assert_same(index.search(centre, radius), brute_force_search(codes, ids, centre, radius))


def test_crowded_buckets_widen_the_offsets() -> None:
    # 700 copies of one code put 700 rows in one bucket: uint8 offsets cannot hold that.
    rng = np.random.default_rng(11)
    crowd = np.repeat(rng.integers(0, 256, (1, 32), dtype=np.uint8), 700, axis=0)
    codes = np.concatenate([crowd, rng.integers(0, 256, (20_000, 32), dtype=np.uint8)])
    ids = rng.permutation(len(codes)).astype(np.int64)
    index = PdqIndex.build(codes, ids, AlwaysTables(tables=11, bits=14, block_bits=4))
    assert index.snapshot.main.rel.dtype == np.uint16
    for query in (crowd[0], flip_bits(rng, crowd[0], 20), codes[900]):
        assert_same(index.search(query, 31), brute_force_search(codes, ids, query, 31))


def test_empty_index() -> None:
    index = PdqIndex()
    query = np.zeros(32, np.uint8)
    ids, distances = index.search(query, 31)
    assert len(index) == 0
    assert ids.size == 0
    assert distances.size == 0
    assert [r[0].size for r in index.search_batch(np.zeros((3, 32), np.uint8), 256)] == [0, 0, 0]


def test_params_for_size() -> None:
    assert MihParams.for_size(1000).tables == 0
    assert MihParams.for_size(10_000_000) == MihParams(tables=11, bits=23, block_bits=5)
    for rows in (5_000, 100_000, 1_000_000, 3_000_000, 50_000_000):
        params = MihParams.for_size(rows)
        assert params.tables * params.bits <= 256
        assert (params.thresholds(31) + 1).sum() == 32
