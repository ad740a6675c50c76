"""The immutable pieces an index snapshot is made of: the main segment, the delta, tombstones.

Main segment: the codes sorted by id, so that ``ids`` is sorted and an id's row is found
by binary search without a hash map, plus ``tables`` multi-index hashing tables laid out
as CSR (compressed sparse rows) so that no table needs a hash map either:

- ``postings[i]`` (``uint32[n]``): every row, sorted by its substring ``i`` (rows ascending
  within a bucket);
- bucket ``v`` of table ``i`` is ``postings[i, off(v):off(v + 1)]`` with
  ``off(v) = base[i, v >> block_bits] + rel[i, v]``. A plain ``uint32`` offset per bucket
  would cost 4 bytes x 2^23 buckets x 11 tables = 37 bytes per code at 10M codes; a
  ``uint32`` base per block of 2^block_bits buckets plus a ``uint8`` offset within the block
  costs 10 (``uint16`` or ``uint32`` only when one block holds more than 255 codes, as when
  many codes are equal).

Delta: codes added since the last compaction, in arrival order, scanned by brute force.
Its buffers grow by doubling and are only ever appended to, so a reader holding an older
snapshot (which knows its own ``rows``) never sees a row change under it.

Tombstones: one bit per row, ``uint64`` words; replaced whole (copy-on-write), never
modified in place once published.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from reclaim.index import _kernels
from reclaim.index.codes import CODE_BYTES, Codes, Ids
from reclaim.index.errors import IndexCorrupt, InvalidCodes
from reclaim.index.params import MihParams

ArrayT = TypeVar("ArrayT", bound=npt.NDArray[Any])
Bitset = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.int64]
Hits = tuple[Rows, Rows, npt.NDArray[np.int32]]  # (query index, row, distance)

_REL_DTYPES = (np.uint8, np.uint16, np.uint32)
_NO_HITS: Hits = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32))
_MIN_DELTA_CAPACITY = 1024
_MAX_ROWS = 2**32


def readonly(array: ArrayT) -> ArrayT:
    """``array``, marked read-only.

    Everything a query reads is read-only, whether built here or mapped from a file, so
    that numba compiles each loop once for one set of array types, not once per origin.
    """
    array.flags.writeable = False
    return array


def bitset(rows: int) -> Bitset:
    """An all-clear bitset for ``rows`` rows (read-only)."""
    return readonly(np.zeros((rows + 63) // 64, dtype=np.uint64))


def bits_set(bits: Bitset, rows: Rows) -> npt.NDArray[np.bool_]:
    """Whether each of ``rows`` is set in ``bits``."""
    words: Bitset = bits[rows >> 6]
    return np.asarray((words >> (rows & 63).astype(np.uint64)) & np.uint64(1), dtype=np.bool_)


def with_bits(bits: Bitset, rows: Rows) -> Bitset:
    """A copy of ``bits`` with ``rows`` set (read-only)."""
    copy = bits.copy()
    np.bitwise_or.at(copy, rows >> 6, np.left_shift(np.uint64(1), (rows & 63).astype(np.uint64)))
    return readonly(copy)


def count_bits(bits: Bitset) -> int:
    """How many bits are set."""
    return int(_kernels.count_bits(bits))


@dataclass(frozen=True, slots=True, eq=False)
class MainSegment:
    """Codes sorted by id and their substring tables; immutable once built."""

    codes: Codes
    ids: Ids
    params: MihParams
    postings: npt.NDArray[np.uint32]
    rel: npt.NDArray[np.unsignedinteger]
    base: npt.NDArray[np.uint32]

    @classmethod
    def empty(cls) -> MainSegment:
        return cls.build(np.empty((0, CODE_BYTES), np.uint8), np.empty(0, np.int64))

    @classmethod
    def build(
        cls, codes: Codes, ids: Ids, params: MihParams | None = None, workers: int = 1
    ) -> MainSegment:
        """Sort ``codes`` by their unique ``ids`` and build the tables (``workers`` threads)."""
        if len(ids) >= _MAX_ROWS:
            raise InvalidCodes(f"a segment holds fewer than {_MAX_ROWS} codes (uint32 postings)")
        order = np.argsort(ids)
        sorted_ids = ids[order]
        if sorted_ids.size > 1 and not bool(np.all(sorted_ids[1:] > sorted_ids[:-1])):
            raise InvalidCodes("the ids of one build must be unique")
        sorted_codes = codes[order]
        chosen = params if params is not None else MihParams.for_size(len(ids))
        postings, rel, base = _build_tables(sorted_codes, chosen, workers)
        return cls(
            readonly(sorted_codes),
            readonly(sorted_ids),
            chosen,
            readonly(postings),
            readonly(rel),
            readonly(base),
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the segment's arrays."""
        arrays = (self.codes, self.ids, self.postings, self.rel, self.base)
        return sum(int(array.nbytes) for array in arrays)

    def rows_of(self, ids: Ids) -> Rows:
        """The rows of those of ``ids`` that are in the segment (dead or alive)."""
        if not len(self):
            return np.empty(0, np.int64)
        where = np.searchsorted(self.ids, ids)
        inside = where < len(self)
        where = where[inside]
        return np.asarray(where[self.ids[where] == ids[inside]], dtype=np.int64)

    def search(self, queries: Codes, radius: int, dead: Bitset) -> Hits:
        """Live rows within ``radius`` of each query: through the tables, or by a scan."""
        codes64 = self.codes.view(np.uint64)
        queries64 = queries.view(np.uint64)
        if not self.params.use_tables(radius, len(self)):
            return _kernels.scan_search(codes64, len(self), dead, queries64, radius)
        params = self.params
        found_query, found_row, found_distance, corrupt = _kernels.mih_search(
            self.codes,
            codes64,
            self.postings,
            self.rel,
            self.base,
            params.block_bits,
            params.starts,
            params.bits,
            params.thresholds(radius),
            max(params.keys_per_table(radius)),
            dead,
            queries,
            queries64,
            radius,
        )
        if corrupt:
            raise IndexCorrupt("the index tables point outside their arrays; rebuild or reload")
        return found_query, found_row, found_distance


def _build_tables(
    codes: Codes, params: MihParams, workers: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.unsignedinteger], npt.NDArray[np.uint32]]:
    rows, size = codes.shape[0], 1 << params.bits
    postings = np.empty((params.tables, rows), dtype=np.uint32)
    base = np.empty((params.tables, (size >> params.block_bits) + 1), dtype=np.uint32)
    if params.tables == 0:
        return postings, np.empty((0, 0), np.uint8), np.empty((0, 0), np.uint32)
    for dtype in _REL_DTYPES:
        # All tables share one rel dtype; the narrowest that holds every block's population.
        rel = np.empty((params.tables, size + 1), dtype=dtype)

        def build(table: int, rel: npt.NDArray[np.unsignedinteger] = rel) -> int:
            start = table * params.bits
            return _kernels.build_table(
                codes,
                start,
                params.bits,
                params.block_bits,
                postings[table],
                rel[table],
                base[table],
            )

        with ThreadPoolExecutor(max_workers=max(1, min(workers, params.tables))) as pool:
            largest = max(pool.map(build, range(params.tables)))
        if largest <= np.iinfo(dtype).max:
            return postings, rel, base
    raise AssertionError("uint32 offsets always fit")  # pragma: no cover


@dataclass(frozen=True, slots=True, eq=False)
class Delta:
    """Rows ``[:rows]`` of append-only buffers; ``dead`` covers the whole capacity."""

    codes: Codes
    ids: Ids
    dead: Bitset
    rows: int

    @classmethod
    def empty(cls, capacity: int = _MIN_DELTA_CAPACITY) -> Delta:
        return cls(
            np.zeros((capacity, CODE_BYTES), np.uint8),
            np.zeros(capacity, np.int64),
            bitset(capacity),
            0,
        )

    @property
    def capacity(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.ids.nbytes + self.dead.nbytes)

    def appended(self, codes: Codes, ids: Ids) -> Delta:
        """This delta with rows added at the end (the buffers are shared when they fit)."""
        rows = self.rows + len(ids)
        buffers, dead = (self.codes, self.ids), self.dead
        if rows > self.capacity:
            capacity = max(2 * self.capacity, rows, _MIN_DELTA_CAPACITY)
            buffers = (np.zeros((capacity, CODE_BYTES), np.uint8), np.zeros(capacity, np.int64))
            buffers[0][: self.rows] = self.codes[: self.rows]
            buffers[1][: self.rows] = self.ids[: self.rows]
            grown_dead = np.zeros((capacity + 63) // 64, np.uint64)
            grown_dead[: dead.shape[0]] = dead
            dead = readonly(grown_dead)
        # Rows past self.rows belong to no published snapshot, so writing them is safe.
        buffers[0][self.rows : rows] = codes
        buffers[1][self.rows : rows] = ids
        return Delta(buffers[0], buffers[1], dead, rows)

    def killed(self, rows: Rows) -> Delta:
        """This delta with ``rows`` marked dead (a new bitset; the buffers are shared)."""
        return Delta(self.codes, self.ids, with_bits(self.dead, rows), self.rows)

    def live(self) -> tuple[Codes, Ids]:
        """The codes and ids of the live rows."""
        alive = ~bits_set(self.dead, np.arange(self.rows, dtype=np.int64))
        return self.codes[: self.rows][alive], self.ids[: self.rows][alive]

    def search(self, queries: Codes, radius: int) -> Hits:
        """Live rows within ``radius`` of each query, by a scan."""
        if self.rows == 0:
            return _NO_HITS
        return _kernels.scan_search(
            self.codes.view(np.uint64), self.rows, self.dead, queries.view(np.uint64), radius
        )


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """One consistent state of an index: what every query reads, start to end."""

    main: MainSegment
    main_dead: Bitset
    delta: Delta
    live: int

    @classmethod
    def empty(cls) -> Snapshot:
        main = MainSegment.empty()
        return cls(main, bitset(0), Delta.empty(), 0)

    @property
    def nbytes(self) -> int:
        return self.main.nbytes + int(self.main_dead.nbytes) + self.delta.nbytes

    def live_ids(self) -> Ids:
        """The ids of every live row, sorted."""
        main_alive = ~bits_set(self.main_dead, np.arange(len(self.main), dtype=np.int64))
        delta_alive = ~bits_set(self.delta.dead, np.arange(self.delta.rows, dtype=np.int64))
        delta_ids = self.delta.ids[: self.delta.rows][delta_alive]
        return np.sort(np.concatenate([self.main.ids[main_alive], delta_ids]))

    def live_main(self) -> tuple[Codes, Ids]:
        """The codes and ids of the main segment's live rows."""
        alive = ~bits_set(self.main_dead, np.arange(len(self.main), dtype=np.int64))
        return self.main.codes[alive], self.main.ids[alive]

    def search(self, queries: Codes, radius: int) -> tuple[Rows, Ids, npt.NDArray[np.int32]]:
        """(query index, id, distance) of every live match, sorted by query, distance, id."""
        main_query, main_row, main_distance = self.main.search(queries, radius, self.main_dead)
        query, ids, distance = main_query, self.main.ids[main_row], main_distance
        if self.delta.rows:
            delta_query, delta_row, delta_distance = self.delta.search(queries, radius)
            query = np.concatenate([query, delta_query])
            ids = np.concatenate([ids, self.delta.ids[delta_row]])
            distance = np.concatenate([distance, delta_distance])
        order = np.lexsort((ids, distance, query))
        return query[order], ids[order], distance[order]
