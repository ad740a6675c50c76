"""``PdqIndex``: exact radius search over PDQ (and vPDQ frame) codes, with incremental updates.

Reads and writes
----------------
The whole state is one immutable :class:`~reclaim.index.segment.Snapshot` held in one
attribute. A query reads that attribute once and works on that snapshot to the end, with
no lock; the compiled loops release the GIL, so queries run in parallel with each other,
with writers and with a compaction. Writers (``add``, ``remove`` and the end of
``compact``) build a new snapshot under ``_lock`` and swap it in with one assignment. So a
query sees either all of a call's changes or none of them, never a part, and never a
replaced id twice or not at all.

- ``add(codes, ids)``: the rows go to the delta, scanned by brute force, so they are
  visible to the next query (10k adds take milliseconds). Adding an id that is already
  present replaces its code; within one call the last occurrence of an id wins.
- ``remove(ids)``: tombstones; unknown ids are ignored, and the count actually removed
  is returned.
- ``compact()``: rebuilds the main segment from the live rows, outside the write lock, and
  then swaps it in; adds and removes made meanwhile are carried over. It may run in a
  background thread; only one compaction runs at a time. Nothing compacts on its own:
  ``needs_compaction`` says when the delta or the tombstones have grown enough to slow
  queries down (a delta of 1/64 of the main segment adds about as much as the tables cost),
  and the caller decides when. At 10M codes a compaction takes about 5 s on 2 cores and
  needs the old and the new main segment in memory at once.
- Bulk loads go through :meth:`PdqIndex.build`; the delta keeps a Python dict of its ids,
  which is fine for the adds between compactions, not for millions of codes at once.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reclaim.index.codes import (
    CODE_BITS,
    Ids,
    as_code,
    as_codes,
    as_ids,
    check_radius,
)
from reclaim.index.params import MihParams
from reclaim.index.segment import (
    Delta,
    MainSegment,
    Snapshot,
    bits_set,
    bitset,
    count_bits,
    with_bits,
)
from reclaim.index.store import load_pdq, save_pdq

Result = tuple[Ids, npt.NDArray[np.int32]]

# A delta this large costs about as much per query as the tables (a 3.5 ns/code scan).
_DELTA_SHARE = 64
_MIN_DELTA_FOR_COMPACTION = 32_768
_DEAD_SHARE = 8
_MIN_BATCH_PER_WORKER = 8


class PdqIndex:
    """Exact radius search over 256-bit PDQ codes; ids are caller-chosen int64.

    ``params`` fixes the table layout; by default each compaction picks it for the number
    of codes (:meth:`MihParams.for_size`). ``workers`` threads build tables and answer
    batches (default: one per core).
    """

    def __init__(self, params: MihParams | None = None, *, workers: int | None = None) -> None:
        self._params = params
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._compact_lock = threading.Lock()
        self._state = Snapshot.empty()
        self._delta_rows: dict[int, int] = {}
        self._touched: set[int] | None = None  # ids changed while a compaction runs

    @classmethod
    def from_snapshot(
        cls, snapshot: Snapshot, params: MihParams | None, *, workers: int | None = None
    ) -> PdqIndex:
        """An index serving ``snapshot`` (as read from disk by :mod:`reclaim.index.store`)."""
        index = cls(params, workers=workers)
        index._state = snapshot
        delta = snapshot.delta
        alive = ~bits_set(delta.dead, np.arange(delta.rows, dtype=np.int64))
        rows = np.flatnonzero(alive)
        index._delta_rows = dict(zip(delta.ids[rows].tolist(), rows.tolist(), strict=True))
        return index

    @classmethod
    def build(
        cls,
        codes: npt.ArrayLike,
        ids: npt.ArrayLike,
        params: MihParams | None = None,
        *,
        workers: int | None = None,
    ) -> PdqIndex:
        """An index of ``codes`` (``uint8[n, 32]``) under ``ids``, tables built.

        Unlike :meth:`add`, a build takes each id once: a repeated id raises
        :class:`~reclaim.index.errors.InvalidCodes`.
        """
        index = cls(params, workers=workers)
        array = as_codes(codes)
        keys = as_ids(ids, count=array.shape[0])
        main = MainSegment.build(array, keys, params, index._workers)
        index._state = Snapshot(main, bitset(len(main)), Delta.empty(), len(main))
        return index

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._state.live

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or not -(2**63) <= int(key) < 2**63:
            return False
        state, probe = self._state, np.array([key], dtype=np.int64)
        rows = state.main.rows_of(probe)
        if rows.size and not bits_set(state.main_dead, rows)[0]:
            return True
        delta = state.delta
        hits = np.flatnonzero(delta.ids[: delta.rows] == probe[0])
        return bool(hits.size) and not bool(bits_set(delta.dead, hits.astype(np.int64)).all())

    @property
    def snapshot(self) -> Snapshot:
        """The current state (immutable; see the module docstring)."""
        return self._state

    @property
    def params(self) -> MihParams | None:
        """The fixed table layout, or None when each compaction chooses one."""
        return self._params

    @property
    def nbytes(self) -> int:
        """Bytes held by the current snapshot's arrays (codes, ids, tables, delta, tombstones)."""
        return self._state.nbytes

    @property
    def needs_compaction(self) -> bool:
        """Whether the delta or the tombstones have grown enough to slow queries down."""
        state = self._state
        main = len(state.main)
        delta_limit = max(_MIN_DELTA_FOR_COMPACTION, main // _DELTA_SHARE)
        live_delta = state.delta.rows - count_bits(state.delta.dead)
        dead = main - (state.live - live_delta)
        return state.delta.rows > delta_limit or dead > max(1, main // _DEAD_SHARE)

    def search(self, code: npt.ArrayLike, radius: int) -> Result:
        """Ids within ``radius`` (inclusive) of ``code`` (``uint8[32]``) and their distances,
        sorted by (distance, id)."""
        query = as_code(code)[np.newaxis, :].copy()  # writable, like every query numba sees
        _, ids, distances = self._state.search(query, min(check_radius(radius), CODE_BITS))
        return ids, distances

    def search_batch(self, codes: npt.ArrayLike, radius: int) -> list[Result]:
        """:meth:`search` for each row of ``codes`` (``uint8[q, 32]``), on ``workers`` threads."""
        queries = as_codes(codes).copy()  # writable, like every query numba sees
        limit = min(check_radius(radius), CODE_BITS)
        state = self._state  # one snapshot for the whole batch
        chunks = min(self._workers, max(1, len(queries) // _MIN_BATCH_PER_WORKER))
        bounds = np.linspace(0, len(queries), chunks + 1).astype(int)
        parts = [queries[low:high] for low, high in itertools.pairwise(bounds)]
        if chunks == 1:
            found = [state.search(queries, limit)]
        else:
            with ThreadPoolExecutor(max_workers=chunks) as pool:
                found = list(pool.map(lambda part: state.search(part, limit), parts))
        results: list[Result] = []
        for part, (query, ids, distances) in zip(parts, found, strict=True):
            edges = np.searchsorted(query, np.arange(len(part) + 1))
            results.extend(
                (ids[low:high], distances[low:high]) for low, high in itertools.pairwise(edges)
            )
        return results

    # -- writing ---------------------------------------------------------------------------

    def add(self, codes: npt.ArrayLike, ids: npt.ArrayLike) -> None:
        """Add ``codes`` (``uint8[n, 32]``) under ``ids``; an existing id's code is replaced."""
        array = as_codes(codes)
        keys = as_ids(ids, count=array.shape[0])
        if not keys.size:
            return
        # Within one call the last occurrence of an id wins.
        _, last_from_end = np.unique(keys[::-1], return_index=True)
        keep = np.sort(len(keys) - 1 - last_from_end)
        array, keys = array[keep], keys[keep]
        with self._lock:
            state, _ = self._without(self._state, keys)
            start = state.delta.rows
            delta = state.delta.appended(array, keys)
            self._delta_rows.update(zip(keys.tolist(), range(start, delta.rows), strict=True))
            self._state = Snapshot(state.main, state.main_dead, delta, state.live + len(keys))
            if self._touched is not None:
                self._touched.update(keys.tolist())

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove ``ids``; unknown ids are ignored. Returns how many were present."""
        keys = np.unique(as_ids(ids))
        if not keys.size:
            return 0
        with self._lock:
            state, removed = self._without(self._state, keys)
            self._state = state
            if self._touched is not None:
                self._touched.update(keys.tolist())
        return removed

    def _without(self, state: Snapshot, keys: Ids) -> tuple[Snapshot, int]:
        """``state`` with the live rows of ``keys`` tombstoned (call under ``_lock``)."""
        main_rows = state.main.rows_of(keys)
        main_rows = main_rows[~bits_set(state.main_dead, main_rows)]
        main_dead = with_bits(state.main_dead, main_rows) if main_rows.size else state.main_dead
        delta_rows = [row for key in keys.tolist() if (row := self._delta_rows.pop(key, -1)) >= 0]
        delta = state.delta
        if delta_rows:
            delta = delta.killed(np.array(delta_rows, dtype=np.int64))
        removed = len(main_rows) + len(delta_rows)
        return Snapshot(state.main, main_dead, delta, state.live - removed), removed

    def compact(self) -> None:
        """Fold the delta and the tombstones into a new main segment (see module docstring)."""
        with self._compact_lock:
            with self._lock:
                start = self._state
                if start.delta.rows == 0 and start.live == len(start.main):
                    return
                self._touched = set()
            try:
                main_codes, main_ids = start.live_main()
                delta_codes, delta_ids = start.delta.live()
                main = MainSegment.build(
                    np.concatenate([main_codes, delta_codes]),
                    np.concatenate([main_ids, delta_ids]),
                    self._params,
                    self._workers,
                )
            except BaseException:
                with self._lock:
                    self._touched = None
                raise
            with self._lock:
                self._swap_in(start, main)

    def _swap_in(self, start: Snapshot, main: MainSegment) -> None:
        """Publish ``main`` with the changes made since ``start`` (call under ``_lock``)."""
        now = self._state
        touched = np.unique(np.fromiter(self._touched or (), dtype=np.int64))
        self._touched = None
        # Ids added or removed during the build: their rows in ``main`` are out of date.
        dead_rows = main.rows_of(touched)
        main_dead = with_bits(bitset(len(main)), dead_rows)
        # Rows added since the start live on in a fresh delta (the dead ones dropped).
        since = np.arange(start.delta.rows, now.delta.rows, dtype=np.int64)
        since = since[~bits_set(now.delta.dead, since)]
        delta = Delta.empty().appended(now.delta.codes[since], now.delta.ids[since])
        self._delta_rows = dict(zip(now.delta.ids[since].tolist(), range(delta.rows), strict=True))
        self._state = Snapshot(main, main_dead, delta, len(main) - len(dead_rows) + delta.rows)

    # -- persistence -----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the current snapshot to directory ``path`` atomically (see ``store``)."""
        save_pdq(Path(path), self._state, self._params)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        mmap: bool = True,
        verify: bool = False,
        workers: int | None = None,
    ) -> PdqIndex:
        """Open an index written by :meth:`save`; raises ``IndexCorrupt`` on a bad directory.

        ``mmap`` maps the large arrays instead of reading them; ``verify`` also checks every
        file's SHA-256 (reads everything once).
        """
        snapshot, params = load_pdq(Path(path), mmap=mmap, verify=verify)
        return cls.from_snapshot(snapshot, params, workers=workers)
