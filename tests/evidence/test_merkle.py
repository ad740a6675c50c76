"""The Merkle tree against known answers computed here, naively, from the RFC 6962
definitions: every tree of 1-64 leaves, every inclusion and consistency proof, and every
mutation of a proof rejected."""

from __future__ import annotations

import hashlib

import pytest

from reclaim.evidence.merkle import (
    EMPTY_ROOT,
    MemoryStore,
    ProofError,
    Tree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

# -- RFC 6962, section 2.1, written out as directly as it reads --------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + entries[0])
    k = _k(n)
    return _h(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, entries[:k], b), mth(entries[k:])]
    return [*subproof(m - k, entries[k:], False), mth(entries[:k])]


ENTRIES = [f"entry {i}".encode() for i in range(64)]
STORE = MemoryStore([leaf_hash(e) for e in ENTRIES])
TREE = Tree(STORE)


def _mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Every single-bit flip of every node, every dropped node, an extra node, a swap."""
    out = []
    for i, node in enumerate(proof):
        for bit in (0, 7, 255):
            flipped = bytearray(node)
            flipped[bit // 8] ^= 1 << (bit % 8)
            out.append([*proof[:i], bytes(flipped), *proof[i + 1 :]])
        out.append(proof[:i] + proof[i + 1 :])
    out.append([*proof, _h(b"extra")])
    if len(proof) >= 2 and proof[0] != proof[1]:
        out.append([proof[1], proof[0], *proof[2:]])
    return out


@pytest.mark.parametrize("size", range(0, 65))
def test_roots_match_the_definition(size: int) -> None:
    assert TREE.root(size) == mth(ENTRIES[:size])


def test_the_empty_root() -> None:
    assert _h(b"") == EMPTY_ROOT
    assert Tree(MemoryStore()).root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_matches_and_holds(size: int) -> None:
    root = mth(ENTRIES[:size])
    for index in range(size):
        proof = TREE.inclusion_proof(index, size)
        assert proof == path(index, ENTRIES[:size])
        leaf = leaf_hash(ENTRIES[index])
        assert verify_inclusion(leaf, index, size, proof, root) is None
        for bad in _mutations(proof):
            with pytest.raises(ProofError):
                verify_inclusion(leaf, index, size, bad, root)
        with pytest.raises(ProofError):  # another leaf, another index, another root
            verify_inclusion(leaf_hash(b"forged"), index, size, proof, root)
        if size > 1:
            with pytest.raises(ProofError):
                verify_inclusion(leaf, (index + 1) % size, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, proof, _h(b"another root"))


@pytest.mark.parametrize("size2", range(1, 65))
def test_every_consistency_proof_matches_and_holds(size2: int) -> None:
    root2 = mth(ENTRIES[:size2])
    for size1 in range(0, size2 + 1):
        root1 = mth(ENTRIES[:size1])
        proof = TREE.consistency_proof(size1, size2)
        expected = [] if size1 in (0, size2) else subproof(size1, ENTRIES[:size2], True)
        assert proof == expected
        assert verify_consistency(size1, size2, proof, root1, root2) is None
        for bad in _mutations(proof):
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, bad, root1, root2)
        if 0 < size1 < size2:
            with pytest.raises(ProofError):  # a rewritten history
                verify_consistency(size1, size2, proof, _h(b"rewritten"), root2)
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, proof, root1, _h(b"forked"))
            with pytest.raises(ProofError):
                verify_consistency(size1 - 1 or size1 + 1, size2, proof, root1, root2)


def test_malformed_inputs_are_refused() -> None:
    root = TREE.root(8)
    leaf = leaf_hash(ENTRIES[0])
    proof = TREE.inclusion_proof(0, 8)
    for args in (
        (leaf, 8, 8, proof, root),
        (leaf, -1, 8, proof, root),
        (leaf, 0, 0, [], root),
        (leaf[:31], 0, 8, proof, root),
        (leaf, 0, 8, [*proof[:2], b"short"], root),
    ):
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    with pytest.raises(ProofError):
        verify_consistency(9, 8, [], root, root)
    with pytest.raises(ProofError):
        verify_consistency(8, 8, [root], root, root)
    with pytest.raises(ProofError):
        verify_consistency(0, 8, [], _h(b"not empty"), root)
    with pytest.raises(IndexError):
        TREE.inclusion_proof(64, 64)
    with pytest.raises(IndexError):
        TREE.root(65)


def test_appending_reports_the_subtrees_it_completes() -> None:
    store = MemoryStore()
    made = [store.append(leaf_hash(e)) for e in ENTRIES[:8]]
    assert [len(m) for m in made] == [1, 2, 1, 3, 1, 2, 1, 4]
    assert made[-1][-1] == (3, 0, mth(ENTRIES[:8]))
