"""Who owns each banked signal, held as a few numpy arrays rather than Python objects.

A matcher must map every signal id its indexes return to the item (public id, label,
bank) it belongs to. As dicts of tuples and strings that cost ~1.2 KB per item -- 12 GB for
a 10M-hash bank in every matcher process. Here it is a handful of sorted arrays (tens of
bytes per item) that a snapshot can memory-map, so that matcher processes on one machine
share one copy.

The layout follows the PDQ index's: a *main* part of sorted arrays, read by binary search,
and a *delta* of plain dicts for what changed since, folded into a new main part when it
grows. Main is never modified in place: removing one of its items only adds the item and
its signals to tombstone sets until the next fold. Not thread-safe: the matcher that owns
it serialises access.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

_FOLD_MIN = 50_000
"""The delta (plus tombstones) is folded into main once it holds this many entries and..."""
_FOLD_SHARE = 0.05
"""...at least this share of main: a fold costs a sort of everything."""
_GATHER_CHUNK = 1 << 20


class Kind(enum.IntEnum):
    """What a signal is to the matcher, i.e. which of its structures hold it."""

    OTHER = 0
    """Held only as owned (a PDQ hash below the quality floor)."""
    PDQ = 1
    """In the PDQ index."""
    VIDEO = 2
    """A vPDQ video: its frames are in the frame index."""
    EXACT = 3
    """A digest looked up exactly (SHA-256, MD5)."""
    GRID = 4
    """In the PDQ index, with a grid (its cells and anchored regions indexed too)."""


class ItemInfo(NamedTuple):
    public_id: str
    label: str
    bank_id: int


class Texts:
    """Strings as one UTF-8 byte array and their end offsets (a column of labels)."""

    def __init__(self, blob: npt.NDArray[np.uint8], ends: npt.NDArray[np.int64]) -> None:
        self.blob = blob
        self.ends = ends

    @classmethod
    def of(cls, strings: Iterable[str]) -> Texts:
        encoded = [s.encode() for s in strings]
        ends = np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)))
        return cls(np.frombuffer(b"".join(encoded), np.uint8).copy(), ends)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, row: int) -> str:
        start = int(self.ends[row - 1]) if row else 0
        return bytes(self.blob[start : int(self.ends[row])]).decode()

    def take(self, rows: npt.NDArray[np.int64]) -> Texts:
        """The strings at ``rows``, in that order (gathered in chunks: no per-byte index
        array over the whole column)."""
        starts = np.concatenate(([0], self.ends[:-1]))[rows] if len(self.ends) else self.ends
        lengths = self.ends[rows] - starts
        ends = np.cumsum(lengths)
        blob = np.empty(int(ends[-1]) if len(ends) else 0, np.uint8)
        done = 0
        for chunk in range(0, len(rows), _GATHER_CHUNK):
            part_starts = starts[chunk : chunk + _GATHER_CHUNK]
            part_lengths = lengths[chunk : chunk + _GATHER_CHUNK]
            total = int(part_lengths.sum())
            if total:
                offsets = np.repeat(
                    part_starts - (np.cumsum(part_lengths) - part_lengths), part_lengths
                )
                blob[done : done + total] = self.blob[offsets + np.arange(total)]
            done += total
        return Texts(blob, ends)

    @staticmethod
    def join(parts: Sequence[Texts]) -> Texts:
        shifts = np.cumsum([0] + [len(p.blob) for p in parts[:-1]])
        return Texts(
            np.concatenate([p.blob for p in parts]) if parts else np.empty(0, np.uint8),
            np.concatenate([p.ends + s for p, s in zip(parts, shifts, strict=True)])
            if parts
            else np.empty(0, np.int64),
        )


@dataclass
class Batch:
    """Items and signals to :meth:`Catalog.put`, as columns (an item may repeat: once per
    signal row that names it)."""

    item_ids: list[int] = field(default_factory=list)
    public_ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    bank_ids: list[int] = field(default_factory=list)
    signal_ids: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)


class _Main(NamedTuple):
    """The folded part: items sorted by id, signals sorted by id, and two orders to find
    an item by public id and an item's signals."""

    item_ids: npt.NDArray[np.int64]
    bank_ids: npt.NDArray[np.int32]
    public_ids: npt.NDArray[np.bytes_]
    labels: Texts
    by_public: npt.NDArray[np.int64]  # item rows in public-id order
    signal_ids: npt.NDArray[np.int64]
    owners: npt.NDArray[np.int64]  # item id per signal
    kinds: npt.NDArray[np.uint8]
    by_owner: npt.NDArray[np.int64]  # signal rows in owner order

    @classmethod
    def empty(cls) -> _Main:
        i64 = np.empty(0, np.int64)
        return cls(
            i64,
            np.empty(0, np.int32),
            np.empty(0, "S1"),
            Texts(np.empty(0, np.uint8), i64),
            i64,
            i64,
            i64,
            np.empty(0, np.uint8),
            i64,
        )


ARRAYS = (
    "item_ids",
    "bank_ids",
    "public_ids",
    "label_blob",
    "label_ends",
    "by_public",
    "signal_ids",
    "owners",
    "kinds",
    "by_owner",
)


def _row(sorted_ids: npt.NDArray[np.int64], key: int) -> int:
    """The row of ``key`` in ``sorted_ids``, or -1."""
    row = int(np.searchsorted(sorted_ids, key))
    return row if row < len(sorted_ids) and int(sorted_ids[row]) == key else -1


class Catalog:
    """Items (public id, label, bank) and the signals they own, by internal id."""

    def __init__(self) -> None:
        self._main = _Main.empty()
        self._items: dict[int, ItemInfo] = {}  # delta
        self._signals: dict[int, tuple[int, Kind]] = {}  # delta: signal -> (owner, kind)
        self._signals_of: dict[int, list[int]] = defaultdict(list)  # delta
        self._by_public: dict[str, int] = {}  # delta
        self._gone_items: set[int] = set()  # main items removed (maybe re-added to delta)
        self._gone_signals: set[int] = set()
        self._live = 0

    def __len__(self) -> int:
        return self._live

    # -- reading ---------------------------------------------------------------------------

    def item(self, item_id: int) -> ItemInfo:
        """The item ``item_id``; ``KeyError`` when it is not held."""
        found = self._items.get(item_id)
        if found is not None:
            return found
        main = self._main
        row = -1 if item_id in self._gone_items else _row(main.item_ids, item_id)
        if row < 0:
            raise KeyError(item_id)
        return ItemInfo(main.public_ids[row].decode(), main.labels[row], int(main.bank_ids[row]))

    def owner(self, signal_id: int) -> int:
        """The item that owns signal ``signal_id``; ``KeyError`` when it is not held."""
        found = self._signals.get(signal_id)
        if found is not None:
            return found[0]
        row = -1 if signal_id in self._gone_signals else _row(self._main.signal_ids, signal_id)
        if row < 0:
            raise KeyError(signal_id)
        return int(self._main.owners[row])

    def bank_of(self, signal_id: int) -> int:
        return self.item(self.owner(signal_id)).bank_id

    def find_public(self, public_ids: Iterable[str]) -> list[int]:
        """The internal ids of the held items with these public ids."""
        out = []
        main = self._main
        for public_id in public_ids:
            found = self._by_public.get(public_id)
            if found is None and len(main.by_public):
                key = np.array(public_id.encode(), dtype=main.public_ids.dtype)
                if key.item() != public_id.encode():
                    continue  # longer than any folded public id: not among them
                at = int(np.searchsorted(main.public_ids, key, sorter=main.by_public))
                if at < len(main.by_public):
                    row = int(main.by_public[at])
                    item_id = int(main.item_ids[row])
                    if main.public_ids[row] == key and item_id not in self._gone_items:
                        found = item_id
            if found is not None:
                out.append(found)
        return out

    def signals_of(self, item_id: int) -> list[tuple[int, Kind]]:
        """The held signals of item ``item_id`` with their kinds."""
        out = [(s, self._signals[s][1]) for s in self._signals_of.get(item_id, ())]
        if item_id in self._gone_items:  # main's signals of it went with it
            return out
        main = self._main
        start, end = np.searchsorted(main.owners, [item_id, item_id + 1], sorter=main.by_owner)
        for row in main.by_owner[start:end].tolist():
            signal_id = int(main.signal_ids[row])
            if signal_id not in self._gone_signals and signal_id not in self._signals:
                out.append((signal_id, Kind(int(main.kinds[row]))))
        return out

    # -- changing --------------------------------------------------------------------------

    def put(self, batch: Batch) -> None:
        """Hold the items and signals of ``batch``; an item already held is replaced."""
        items = len(batch.item_ids)
        large = items + len(batch.signal_ids) >= max(_FOLD_MIN, int(_FOLD_SHARE * self._size()))
        if large:  # a cold start or a big import: straight into main, no dicts on the way
            self._fold(batch)
            return
        for item_id, public_id, label, bank_id in zip(
            batch.item_ids, batch.public_ids, batch.labels, batch.bank_ids, strict=True
        ):
            if item_id not in self._items:
                self._live += item_id in self._gone_items or _row(self._main.item_ids, item_id) < 0
            self._items[item_id] = ItemInfo(public_id, label, bank_id)
            self._by_public[public_id] = item_id
        for signal_id, owner, kind in zip(batch.signal_ids, batch.owners, batch.kinds, strict=True):
            if signal_id not in self._signals:
                self._signals_of[owner].append(signal_id)
            self._signals[signal_id] = (owner, Kind(kind))
        self._maybe_fold()

    def remove(self, item_ids: Iterable[int]) -> list[tuple[int, Kind]]:
        """Forget items; returns the signals they owned, with their kinds."""
        gone: list[tuple[int, Kind]] = []
        for item_id in item_ids:
            try:
                info = self.item(item_id)
            except KeyError:
                continue
            signals = self.signals_of(item_id)
            gone.extend(signals)
            self._live -= 1
            if self._items.pop(item_id, None) is not None:
                self._by_public.pop(info.public_id, None)
            for signal_id in self._signals_of.pop(item_id, []):
                del self._signals[signal_id]
            if _row(self._main.item_ids, item_id) >= 0:
                self._gone_items.add(item_id)
                self._gone_signals.update(
                    s for s, _ in signals if _row(self._main.signal_ids, s) >= 0
                )
        self._maybe_fold()
        return gone

    # -- folding and snapshots ---------------------------------------------------------------

    def _size(self) -> int:
        return len(self._main.item_ids) + len(self._items)

    def _maybe_fold(self) -> None:
        pending = len(self._items) + len(self._signals) + len(self._gone_items)
        if pending >= max(_FOLD_MIN, int(_FOLD_SHARE * len(self._main.item_ids))):
            self._fold()

    def _fold(self, batch: Batch | None = None) -> None:
        """A new main part: the live rows of the old one, then the delta, then ``batch``
        (the last of the same id wins), sorted; the delta and tombstones are emptied."""
        main, batch = self._main, batch or Batch()
        rows = np.flatnonzero(~np.isin(main.item_ids, _ids(self._gone_items)))
        infos = list(self._items.values())
        ids = np.concatenate(
            (main.item_ids[rows], _ids(self._items), np.array(batch.item_ids, np.int64))
        )
        pick = _last_of_each(ids)
        new_public = [i.public_id for i in infos] + batch.public_ids
        public_ids = np.concatenate((main.public_ids[rows], _bytes_column(new_public)))
        labels = Texts.join(
            [main.labels.take(rows), Texts.of([i.label for i in infos] + batch.labels)]
        )
        bank_ids = np.concatenate(
            (
                main.bank_ids[rows],
                np.array([i.bank_id for i in infos] + batch.bank_ids, np.int32),
            )
        )
        item_ids, public_ids, bank_ids = ids[pick], public_ids[pick], bank_ids[pick]

        rows = np.flatnonzero(~np.isin(main.signal_ids, _ids(self._gone_signals)))
        delta = list(self._signals.values())
        signal_ids = np.concatenate(
            (main.signal_ids[rows], _ids(self._signals), np.array(batch.signal_ids, np.int64))
        )
        owners = np.concatenate(
            (main.owners[rows], np.array([o for o, _ in delta] + batch.owners, np.int64))
        )
        kinds = np.concatenate(
            (main.kinds[rows], np.array([k for _, k in delta] + batch.kinds, np.uint8))
        )
        chosen = _last_of_each(signal_ids)
        signal_ids, owners, kinds = signal_ids[chosen], owners[chosen], kinds[chosen]
        self._main = _Main(
            item_ids,
            bank_ids,
            public_ids,
            labels.take(pick),
            np.argsort(public_ids, kind="stable"),
            signal_ids,
            owners,
            kinds,
            np.argsort(owners, kind="stable"),
        )
        self._live = len(item_ids)
        self._items.clear()
        self._signals.clear()
        self._signals_of.clear()
        self._by_public.clear()
        self._gone_items.clear()
        self._gone_signals.clear()

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Everything, folded, as named arrays (for a snapshot)."""
        if self._items or self._signals or self._gone_items:
            self._fold()
        main = self._main
        return {
            "item_ids": main.item_ids,
            "bank_ids": main.bank_ids,
            "public_ids": main.public_ids,
            "label_blob": main.labels.blob,
            "label_ends": main.labels.ends,
            "by_public": main.by_public,
            "signal_ids": main.signal_ids,
            "owners": main.owners,
            "kinds": main.kinds,
            "by_owner": main.by_owner,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> Catalog:
        """A catalog over arrays from :meth:`arrays` (possibly memory-mapped, read-only);
        raises ``ValueError`` when they do not fit together."""
        main = _Main(
            arrays["item_ids"],
            arrays["bank_ids"],
            arrays["public_ids"],
            Texts(arrays["label_blob"], arrays["label_ends"]),
            arrays["by_public"],
            arrays["signal_ids"],
            arrays["owners"],
            arrays["kinds"],
            arrays["by_owner"],
        )
        items, signals = len(main.item_ids), len(main.signal_ids)
        if not (
            len(main.bank_ids) == len(main.public_ids) == len(main.labels) == items
            and len(main.by_public) == items
            and len(main.owners) == len(main.kinds) == len(main.by_owner) == signals
            and (not len(main.labels) or int(main.labels.ends[-1]) == len(main.labels.blob))
            and bool(np.all(main.item_ids[1:] > main.item_ids[:-1]))
            and bool(np.all(main.signal_ids[1:] > main.signal_ids[:-1]))
            and bool(np.all(main.labels.ends[1:] >= main.labels.ends[:-1]))
            and _permutation(main.by_public, items)
            and _permutation(main.by_owner, signals)
            and _all_in(main.owners, main.item_ids)
            and bool(np.all(main.kinds <= max(Kind)))
        ):
            raise ValueError("the catalog's arrays do not fit together")
        catalog = cls()
        catalog._main = main
        catalog._live = items
        return catalog


def _ids(keys: Iterable[int]) -> npt.NDArray[np.int64]:
    return np.fromiter(keys, np.int64)


def _bytes_column(strings: list[str]) -> npt.NDArray[np.bytes_]:
    if not strings:
        return np.empty(0, "S1")
    return np.array([s.encode() for s in strings], dtype=np.bytes_)


def _last_of_each(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Positions in ``ids`` of the last occurrence of each id, in ascending id order."""
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    last = np.ones(len(order), bool)
    last[:-1] = ordered[1:] != ordered[:-1]
    return order[last]


def _all_in(keys: npt.NDArray[np.int64], sorted_ids: npt.NDArray[np.int64]) -> bool:
    rows = np.minimum(np.searchsorted(sorted_ids, keys), max(len(sorted_ids) - 1, 0))
    return not len(keys) or (len(sorted_ids) > 0 and bool(np.all(sorted_ids[rows] == keys)))


def _permutation(order: npt.NDArray[np.int64], size: int) -> bool:
    if len(order) != size:
        return False
    seen = np.zeros(size, bool)
    if size and (order.min() < 0 or order.max() >= size):
        return False
    seen[order] = True
    return bool(seen.all())
