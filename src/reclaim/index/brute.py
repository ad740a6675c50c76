"""The reference definition of a PDQ radius match, by brute force.

Tests hold every fast index to this: for a query and a radius, the result is every id whose
code lies within Hamming distance ``radius`` (inclusive), with that distance, sorted by
(distance, id). It is deliberately the plainest code that can say so -- a popcount table over
the XOR of every stored code -- and is not meant to be fast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reclaim.index.codes import Ids, as_code, as_codes, as_ids, check_radius

_POPCOUNT8 = np.array([bin(value).count("1") for value in range(256)], dtype=np.int32)


def hamming_distances(codes: npt.ArrayLike, query: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """The Hamming distance from ``query`` (``uint8[32]``) to each code (``uint8[n, 32]``)."""
    array = as_codes(codes)
    code = as_code(query)
    return np.asarray(_POPCOUNT8[array ^ code].sum(axis=1), dtype=np.int32)


def brute_force_search(
    codes: npt.ArrayLike, ids: npt.ArrayLike, query: npt.ArrayLike, radius: int
) -> tuple[Ids, npt.NDArray[np.int32]]:
    """Ids within ``radius`` of ``query`` and their distances, sorted by (distance, id)."""
    array = as_codes(codes)
    keys = as_ids(ids, count=array.shape[0])
    limit = check_radius(radius)
    distances = hamming_distances(array, query)
    hit = distances <= limit
    found, found_distances = keys[hit], distances[hit]
    order = np.lexsort((found, found_distances))
    return found[order], found_distances[order]
