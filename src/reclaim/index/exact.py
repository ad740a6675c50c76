"""``ExactIndex``: exact signals (SHA-256, MD5 digests) matched by a hash table.

Each id holds one digest (adding an id again replaces its digest); a digest may belong to
many ids. Writers take a lock; readers take none: every digest maps to an immutable
``frozenset`` that writers replace whole, so a lookup never sees a half-applied change.
Saved with the same atomic directory layout as the PDQ index (:mod:`.files`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reclaim.index.codes import Ids, as_ids
from reclaim.index.errors import IndexCorrupt, InvalidCodes
from reclaim.index.files import read_arrays, write_arrays
from reclaim.signals.base import HashFormatError, parse_hex

KIND = "reclaim.exact-index"
DIGEST_BITS = {"sha256": 256, "md5": 128}


class ExactIndex:
    """Digest (hex) -> ids, for one ``algorithm`` (``"sha256"`` or ``"md5"``)."""

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in DIGEST_BITS:
            raise InvalidCodes(
                f"unknown digest algorithm {algorithm!r}; use one of {list(DIGEST_BITS)}"
            )
        self.algorithm = algorithm
        self._lock = threading.Lock()
        self._ids_of: dict[bytes, frozenset[int]] = {}
        self._digest_of: dict[int, bytes] = {}

    def _digest(self, value: str) -> bytes:
        try:
            text = parse_hex(value, bits=DIGEST_BITS[self.algorithm], name=self.algorithm)
        except HashFormatError as error:
            raise InvalidCodes(str(error)) from None
        return bytes.fromhex(text)

    def __len__(self) -> int:
        return len(self._digest_of)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int | np.integer) and int(key) in self._digest_of

    def add(self, values: Sequence[str], ids: npt.ArrayLike) -> None:
        """Register each digest in ``values`` under the id at the same position."""
        digests = [self._digest(value) for value in values]
        keys = as_ids(ids, count=len(digests)).tolist()
        with self._lock:
            for digest, key in zip(digests, keys, strict=True):
                self._unlink(key)
                self._digest_of[key] = digest
                self._ids_of[digest] = self._ids_of.get(digest, frozenset()) | {key}

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove ``ids``; unknown ids are ignored. Returns how many were present."""
        keys = as_ids(ids).tolist()
        with self._lock:
            return sum(self._unlink(key) for key in set(keys))

    def _unlink(self, key: int) -> bool:
        digest = self._digest_of.pop(key, None)
        if digest is None:
            return False
        rest = self._ids_of[digest] - {key}
        if rest:
            self._ids_of[digest] = rest
        else:
            del self._ids_of[digest]
        return True

    def lookup(self, value: str) -> Ids:
        """The ids registered under digest ``value`` (hex, either case), sorted."""
        found = self._ids_of.get(self._digest(value), frozenset())
        return np.array(sorted(found), dtype=np.int64)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to directory ``path`` atomically."""
        with self._lock:
            items = list(self._digest_of.items())
        width = DIGEST_BITS[self.algorithm] // 8
        ids = np.array([key for key, _ in items], dtype=np.int64)
        raw = b"".join(digest for _, digest in items)
        digests = np.frombuffer(raw, dtype=np.uint8).reshape(len(items), width)
        meta = {"algorithm": self.algorithm, "rows": len(items)}
        write_arrays(Path(path), KIND, meta, {"digests": digests, "ids": ids})

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = False) -> ExactIndex:
        """Read an index written by :meth:`save`; raises :class:`IndexCorrupt`."""
        where = Path(path)
        meta, arrays = read_arrays(where, KIND, ("digests", "ids"), mmap=False, verify=verify)
        algorithm = meta.get("algorithm")
        if not isinstance(algorithm, str) or algorithm not in DIGEST_BITS:
            raise IndexCorrupt(f"{where}: unknown digest algorithm {algorithm!r}")
        digests, ids = arrays["digests"], arrays["ids"]
        rows = meta.get("rows")
        width = DIGEST_BITS[algorithm] // 8
        if digests.dtype != np.uint8 or digests.shape != (rows, width):
            raise IndexCorrupt(f"{where}: digests are {digests.dtype} {digests.shape}")
        if ids.dtype != np.int64 or ids.shape != (rows,) or len(np.unique(ids)) != rows:
            raise IndexCorrupt(f"{where}: ids are not {rows} unique int64 values")
        index = cls(algorithm)
        grouped: dict[bytes, set[int]] = {}
        for key, row in zip(ids.tolist(), digests, strict=True):
            digest = row.tobytes()
            index._digest_of[key] = digest
            grouped.setdefault(digest, set()).add(key)
        index._ids_of = {digest: frozenset(keys) for digest, keys in grouped.items()}
        return index
