"""Adds, replacements and removals are visible to the next query, and survive compaction."""

from __future__ import annotations

import numpy as np
import pytest

from reclaim.index import InvalidCodes, PdqIndex, brute_force_search

from .conftest import AlwaysTables, assert_same, flip_bits

PARAMS = AlwaysTables(tables=11, bits=12, block_bits=3)


class Model:
    """The obvious implementation: a dict of id -> code, searched by brute force."""

    def __init__(self) -> None:
        self.codes: dict[int, np.ndarray] = {}

    def add(self, codes: np.ndarray, ids: np.ndarray) -> None:
        for code, key in zip(codes, ids.tolist(), strict=True):
            self.codes[key] = code

    def remove(self, ids: np.ndarray) -> int:
        return sum(self.codes.pop(key, None) is not None for key in set(ids.tolist()))

    def search(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.codes:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        ids = np.array(list(self.codes), dtype=np.int64)
        return brute_force_search(np.array(list(self.codes.values())), ids, query, radius)


def check(index: PdqIndex, model: Model, queries: np.ndarray, radius: int = 31) -> None:
    assert len(index) == len(model.codes)
    for query in queries:
        assert_same(index.search(query, radius), model.search(query, radius))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(31)


def near(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    """``count`` codes within 0..40 bits of random ``centres``."""
    picks = rng.integers(0, len(centres), count)
    return np.array([flip_bits(rng, centres[i], int(rng.integers(0, 41))) for i in picks])


def test_adds_and_removes_are_visible_at_once_and_after_compaction(rng) -> None:
    centres = rng.integers(0, 256, (6, 32), dtype=np.uint8)
    codes = np.concatenate(
        [rng.integers(0, 256, (5000, 32), dtype=np.uint8), near(rng, centres, 300)]
    )
    ids = rng.permutation(len(codes)).astype(np.int64) * 7 - 9000
    index, model = PdqIndex.build(codes, ids, PARAMS), Model()
    model.add(codes, ids)
    check(index, model, centres)
    added = near(rng, centres, 200)
    added_ids = np.arange(10**12, 10**12 + 200, dtype=np.int64)
    index.add(added, added_ids)
    model.add(added, added_ids)
    check(index, model, centres)
    gone = np.concatenate([ids[:150], added_ids[:50], np.array([123456789, -1])])
    assert index.remove(gone) == model.remove(gone) == 200
    check(index, model, centres)
    assert index.remove(gone) == 0  # removing again, or removing unknown ids, is a no-op
    index.compact()
    check(index, model, centres)
    assert index.snapshot.delta.rows == 0
    assert len(index.snapshot.main) == len(model.codes)


def test_adding_an_existing_id_replaces_its_code(rng) -> None:
    centre = rng.integers(0, 256, 32, dtype=np.uint8)
    far = flip_bits(rng, centre, 100)
    index = PdqIndex.build(np.array([centre, far]), np.array([1, 2]), PARAMS)
    index.add(np.array([far]), np.array([1]))  # id 1 in the main segment moves away
    assert index.search(centre, 31)[0].tolist() == []
    index.add(np.array([centre, far, flip_bits(rng, centre, 3)]), np.array([3, 3, 3]))
    assert_same(index.search(centre, 31), (np.array([3]), np.array([3], np.int32)))  # last wins
    index.add(np.array([centre]), np.array([3]))  # id 3 in the delta moves again
    assert_same(index.search(centre, 31), (np.array([3]), np.array([0], np.int32)))
    assert len(index) == 3
    assert 3 in index
    assert 4 not in index
    index.compact()
    assert_same(index.search(centre, 31), (np.array([3]), np.array([0], np.int32)))
    assert sorted(index.search(far, 0)[0].tolist()) == [1, 2]


def test_random_operations_match_the_model(rng) -> None:
    centres = rng.integers(0, 256, (4, 32), dtype=np.uint8)
    index, model = PdqIndex(PARAMS), Model()
    for _step in range(60):
        action = rng.integers(0, 4)
        if action <= 1:
            count = int(rng.integers(1, 300))
            codes = near(rng, centres, count)
            ids = rng.integers(0, 2000, count).astype(np.int64)  # repeats: replacements
            index.add(codes, ids)
            model.add(codes, ids)
        elif action == 2:
            ids = rng.integers(0, 2000, int(rng.integers(1, 200))).astype(np.int64)
            assert index.remove(ids) == model.remove(ids)
        else:
            index.compact()
        check(index, model, centres, radius=int(rng.choice([0, 8, 31, 40])))


def test_ten_thousand_adds_are_visible_to_the_next_query(rng) -> None:
    base = rng.integers(0, 256, (50_000, 32), dtype=np.uint8)
    index = PdqIndex.build(base, np.arange(50_000, dtype=np.int64))
    added = rng.integers(0, 256, (10_000, 32), dtype=np.uint8)
    index.add(added, np.arange(50_000, 60_000, dtype=np.int64))
    for row in (0, 4321, 9999):
        found, distances = index.search(added[row], 0)
        assert 50_000 + row in found.tolist()
        assert distances[0] == 0


def test_needs_compaction_follows_the_delta(rng) -> None:
    index = PdqIndex.build(rng.integers(0, 256, (10_000, 32), dtype=np.uint8), np.arange(10_000))
    assert not index.needs_compaction
    index.add(rng.integers(0, 256, (40_000, 32), dtype=np.uint8), np.arange(10_000, 50_000))
    assert index.needs_compaction
    index.compact()
    assert not index.needs_compaction
    index.remove(np.arange(0, 20_000))
    assert index.needs_compaction


@pytest.mark.parametrize(
    ("codes", "ids"),
    [
        (np.zeros((2, 31), np.uint8), [1, 2]),
        (np.zeros((2, 32), np.int64), [1, 2]),
        (np.zeros((2, 32), np.uint8), [1]),
        (np.zeros((2, 32), np.uint8), [1.5, 2.0]),
        (np.zeros((1, 32), np.uint8), np.array([2**64 - 1], np.uint64)),
    ],
)
def test_bad_input_is_a_typed_error(codes, ids) -> None:
    with pytest.raises(InvalidCodes):
        PdqIndex().add(codes, ids)


def test_a_build_with_repeated_ids_is_a_typed_error() -> None:
    with pytest.raises(InvalidCodes):
        PdqIndex.build(np.zeros((3, 32), np.uint8), [5, 6, 5])
    assert 2**70 not in PdqIndex()


def test_bad_query_is_a_typed_error() -> None:
    index = PdqIndex()
    for query, radius in [(np.zeros(31, np.uint8), 3), (np.zeros(32, np.uint8), -1)]:
        with pytest.raises(InvalidCodes):
            index.search(query, radius)
    with pytest.raises(InvalidCodes):
        index.search_batch(np.zeros(32, np.uint8), 3)
