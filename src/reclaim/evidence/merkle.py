"""Merkle tree hashing, proofs and proof checks in the format of RFC 6962 / RFC 9162.

This module stands alone (only the standard library) so that anyone can check Reclaim's
custody-log proofs without the rest of Reclaim:

- ``leaf_hash(data) = SHA-256(0x00 || data)``; ``node_hash(l, r) = SHA-256(0x01 || l || r)``;
  the root of the empty tree is ``SHA-256()``.
- :func:`verify_inclusion` and :func:`verify_consistency` follow the verification
  algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2 and return ``None`` when the proof
  holds, raising :class:`ProofError` (with the reason) otherwise.

For building proofs, :class:`Tree` keeps the hash of every complete ("perfect") subtree,
so that a root, an inclusion proof or a consistency proof costs O(log n) lookups however
large the tree; :class:`SubtreeStore` lets the hashes live elsewhere (a database).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not hold (the message says why)."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of a log entry: SHA-256 of 0x00 followed by the entry."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256 of 0x01, the left child and the right child."""
    return hashlib.sha256(b"\x01" + left + right).digest()


# -- checking proofs ---------------------------------------------------------------------------


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that the leaf hash ``leaf`` is entry ``index`` of the tree of ``tree_size``
    entries whose root is ``root`` (RFC 9162, 2.1.3.2)."""
    _check_hashes([leaf, root, *proof])
    if not 0 <= index < tree_size:
        raise ProofError(f"index {index} is not in a tree of {tree_size} entries")
    fn, sn = index, tree_size - 1
    computed = leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if computed != root:
        raise ProofError("the inclusion proof does not lead to the root")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size1`` entries with root ``root1`` is a prefix of the tree
    of ``size2`` entries with root ``root2`` (RFC 9162, 2.1.4.2)."""
    _check_hashes([root1, root2, *proof])
    if not 0 <= size1 <= size2:
        raise ProofError(f"a tree of {size1} entries cannot precede one of {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("trees of the same size need an empty consistency proof")
        if root1 != root2:
            raise ProofError("trees of the same size have different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError("the empty tree needs an empty consistency proof")
        if root1 != EMPTY_ROOT:
            raise ProofError("the root of the empty tree is not SHA-256 of nothing")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # an exact power of two: its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            first = node_hash(node, first)
            second = node_hash(node, second)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            second = node_hash(second, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if first != root1:
        raise ProofError("the consistency proof does not lead to the first root")
    if second != root2:
        raise ProofError("the consistency proof does not lead to the second root")


def _check_hashes(values: Sequence[bytes]) -> None:
    for value in values:
        if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
            raise ProofError(f"a hash must be {HASH_SIZE} bytes")


# -- building proofs ---------------------------------------------------------------------------


class SubtreeStore(Protocol):
    """Where the hashes of complete subtrees are kept."""

    def size(self) -> int:
        """How many leaves the tree holds."""

    def perfect(self, level: int, index: int) -> bytes:
        """The hash of leaves ``index * 2**level`` up to ``(index + 1) * 2**level``."""


class Tree:
    """Roots and proofs of a tree whose complete subtrees' hashes a store keeps."""

    def __init__(self, store: SubtreeStore) -> None:
        self.store = store

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (all of them by default)."""
        size = self._size(size)
        return self._range(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        size = self._size(size)
        if not 0 <= index < size:
            raise IndexError(f"leaf {index} is not in a tree of {size} leaves")
        return self._path(index, 0, size)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """The proof that the first ``size1`` leaves are a prefix of the first ``size2``."""
        size2 = self._size(size2)
        if not 0 <= size1 <= size2:
            raise IndexError(f"no tree of {size1} leaves precedes one of {size2}")
        if size1 in (0, size2):
            return []
        return self._subproof(size1, 0, size2, True)

    # RFC 9162 2.1.3.1 / 2.1.4.1, on the range [start, end) of the leaves.

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        if end - start == 1:
            return []
        k = _split(end - start)
        if index - start < k:
            return [*self._path(index, start, start + k), self._range(start + k, end)]
        return [*self._path(index, start + k, end), self._range(start, start + k)]

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self._range(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self._range(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self._range(start, start + k)]

    def _range(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end): complete subtrees from the left, folded from the
        right (how every range the proofs ask for is built)."""
        blocks: list[bytes] = []
        while start < end:
            level = (end - start).bit_length() - 1
            while start % (1 << level):
                level -= 1
            blocks.append(self.store.perfect(level, start >> level))
            start += 1 << level
        value = blocks[-1]
        for block in reversed(blocks[:-1]):
            value = node_hash(block, value)
        return value

    def _size(self, size: int | None) -> int:
        held = self.store.size()
        if size is None:
            return held
        if not 0 <= size <= held:
            raise IndexError(f"the tree holds {held} leaves, not {size}")
        return size


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MemoryStore:
    """Complete-subtree hashes in memory: ``levels[l][i]`` is the hash of the i-th
    complete subtree of 2**l leaves."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def size(self) -> int:
        return len(self.levels[0])

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the (level, index, hash) of every complete subtree it
        completed, the leaf itself first."""
        made = [(0, len(self.levels[0]), leaf)]
        self.levels[0].append(leaf)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            left, right = self.levels[level][-2:]
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(node_hash(left, right))
            level += 1
            made.append((level, len(self.levels[level]) - 1, self.levels[level][-1]))
        return made
