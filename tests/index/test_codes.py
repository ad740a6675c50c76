"""Hex and array forms of PDQ codes, and the brute-force reference itself."""

from __future__ import annotations

import numpy as np
import pytest

from reclaim.index import (
    InvalidCodes,
    brute_force_search,
    code_to_hex,
    codes_to_hex,
    hamming_distances,
    hex_to_code,
    hex_to_codes,
)
from reclaim.signals.base import hamming


def test_hex_round_trip_keeps_the_bit_order() -> None:
    value = "f" + "0" * 62 + "1"
    code = hex_to_code(value)
    assert code[0] == 0xF0
    assert code[31] == 0x01
    assert code_to_hex(code) == value
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (20, 32), dtype=np.uint8)
    assert np.array_equal(hex_to_codes(codes_to_hex(codes)), codes)
    assert np.array_equal(hex_to_codes([value.upper()]), code[np.newaxis])


@pytest.mark.parametrize(
    "bad", ["0" * 63, "0" * 65, "g" * 64, "00 " + "0" * 61, "0" * 62 + "\n0", 12]
)
def test_malformed_hex_is_a_typed_error(bad) -> None:
    with pytest.raises(InvalidCodes):
        hex_to_codes(["0" * 64, bad])


def test_brute_force_agrees_with_the_signal_definition() -> None:
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    hexes = codes_to_hex(codes)
    query = codes[0] ^ rng.integers(0, 2, 32, dtype=np.uint8)
    expected = [hamming(code_to_hex(query), value) for value in hexes]
    assert hamming_distances(codes, query).tolist() == expected
    ids = np.arange(300, 0, -1, dtype=np.int64)
    found, distances = brute_force_search(codes, ids, query, 120)
    pairs = sorted((d, int(i)) for d, i in zip(expected, ids, strict=True) if d <= 120)
    assert list(zip(distances.tolist(), found.tolist(), strict=True)) == pairs
