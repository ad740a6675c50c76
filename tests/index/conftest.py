"""Shared data for the index tests: random PDQ-like codes with planted near-duplicates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from reclaim.index import MihParams, brute_force_search

PLANTED_DISTANCES = range(41)  # 0..40 bits from each query


def flip_bits(rng: np.random.Generator, code: np.ndarray, flips: int) -> np.ndarray:
    """``code`` with exactly ``flips`` distinct bits flipped."""
    positions = rng.choice(256, size=flips, replace=False)
    out = code.copy()
    masks = np.left_shift(1, 7 - (positions & 7)).astype(np.uint8)
    np.bitwise_xor.at(out, positions >> 3, masks)
    return out


def unique_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct int64 ids spread over the whole range, negatives included."""
    ids = np.unique(rng.integers(-(2**62), 2**62, size=count, dtype=np.int64))
    assert ids.size == count  # a collision among 2^63 values would be news
    return rng.permutation(ids)


@dataclass(frozen=True)
class Planted:
    codes: np.ndarray  # uint8[n, 32]
    ids: np.ndarray  # int64[n]
    queries: np.ndarray  # uint8[q, 32]

    def expected(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        return brute_force_search(self.codes, self.ids, query, radius)


def make_planted(seed: int, random_codes: int, queries: int) -> Planted:
    """Random codes plus, for each query, one code at every distance in PLANTED_DISTANCES."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(random_codes, 32), dtype=np.uint8)
    centres = rng.integers(0, 256, size=(queries, 32), dtype=np.uint8)
    near = [flip_bits(rng, centre, k) for centre in centres for k in PLANTED_DISTANCES]
    codes = np.concatenate([base, np.array(near, dtype=np.uint8)])
    order = rng.permutation(len(codes))
    return Planted(codes[order], unique_ids(rng, len(codes)), centres)


@pytest.fixture(scope="session")
def planted() -> Planted:
    """100k random codes and 24 queries with a planted code at every distance 0..40."""
    return make_planted(seed=20240601, random_codes=100_000, queries=24)


@dataclass(frozen=True, slots=True)
class AlwaysTables(MihParams):
    """Parameters that always probe the tables, so tests reach them at every radius."""

    def use_tables(self, radius: int, rows: int) -> bool:
        return self.tables > 0


def assert_same(found: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, np.ndarray]):
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])
    assert found[0].dtype == np.int64
    assert found[1].dtype == np.int32
