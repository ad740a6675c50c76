"""Compiled inner loops of the PDQ index: popcount, substrings, table building, probing, scans.

Everything here runs under numba with the GIL released (``nogil=True``), so queries run
in parallel with each other and with a compaction in another thread. The functions take
plain arrays and return plain arrays; :mod:`reclaim.index.segment` owns their meaning.

Memory safety does not rest on the files on disk being intact: every offset and row read
from a table is checked against the array it indexes, and a bad one sets the ``corrupt``
flag that the caller turns into :class:`reclaim.index.errors.IndexCorrupt`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_INITIAL_RESULTS = 64
_INITIAL_CANDIDATES = 1024
_SCAN_BLOCK = 4096


@intrinsic
def _ctpop(typingctx: Any, value: Any) -> Any:
    # LLVM's ctpop becomes one POPCNT instruction; numba exposes no popcount of its own.
    if not isinstance(value, types.Integer):
        return None
    signature = types.int64(value)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        count = builder.ctpop(args[0])
        target = context.get_value_type(types.int64)
        return builder.zext(count, target) if count.type.width < 64 else count

    return signature, codegen


@numba.njit(cache=True, nogil=True, inline="always")
def popcount(value: Any) -> int:
    return _ctpop(value)  # type: ignore[call-arg]  # numba fills in the typing context


@numba.njit(cache=True, nogil=True, inline="always")
def substring(row: Any, start: int, bits: int) -> int:
    """Bits ``[start, start + bits)`` of a code, bit 0 being the top bit of byte 0."""
    first = start >> 3
    last = (start + bits - 1) >> 3
    acc: Any = 0
    for j in range(first, last + 1):
        acc = (acc << 8) | np.int64(row[j])
    shift = 8 * (last + 1) - (start + bits)
    return (acc >> shift) & ((1 << bits) - 1)  # type: ignore[no-any-return]


@numba.njit(cache=True, nogil=True, inline="always")
def distance(codes64: Any, row: int, query64: Any) -> int:
    return (
        popcount(codes64[row, 0] ^ query64[0])
        + popcount(codes64[row, 1] ^ query64[1])
        + popcount(codes64[row, 2] ^ query64[2])
        + popcount(codes64[row, 3] ^ query64[3])
    )


@numba.njit(cache=True, nogil=True, inline="always")
def is_dead(dead: Any, row: int) -> bool:
    return (dead[row >> 6] >> np.uint64(row & 63)) & np.uint64(1) != 0  # type: ignore[no-any-return]


@numba.njit(cache=True, nogil=True)
def grown(array: Any, minimum: int) -> Any:
    """A copy of ``array`` with room for at least ``minimum`` items."""
    bigger = np.empty(max(2 * array.shape[0], minimum), array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


@numba.njit(cache=True, nogil=True)
def build_table(
    codes8: Any, start: int, bits: int, block_bits: int, postings: Any, rel: Any, base: Any
) -> int:
    """Counting-sort rows by one substring into ``postings`` (rows ascending per bucket).

    Bucket ``v`` holds ``postings[off(v):off(v + 1)]`` where
    ``off(v) = base[v >> block_bits] + rel[v]``. Returns the largest ``rel`` value, which the
    caller checks against ``rel``'s dtype (a bigger one was written wrapped around).
    """
    n = codes8.shape[0]
    size = 1 << bits
    keys = np.empty(n, np.uint32)
    cursor = np.zeros(size + 1, np.uint32)
    # Two loops, not one: fused, the counter updates stalled on the key stores (3x slower).
    for row in range(n):
        keys[row] = substring(codes8[row], start, bits)
    for row in range(n):
        cursor[keys[row] + 1] += 1
    for value in range(size):
        cursor[value + 1] += cursor[value]
    blocks = size >> block_bits
    for block in range(blocks + 1):
        base[block] = cursor[block << block_bits]
    largest: Any = 0
    for value in range(size + 1):
        offset = np.int64(cursor[value]) - np.int64(cursor[(value >> block_bits) << block_bits])
        rel[value] = offset
        largest = max(largest, offset)
    for row in range(n):
        key = keys[row]
        postings[cursor[key]] = row
        cursor[key] += 1
    return int(largest)


@numba.njit(cache=True, nogil=True)
def probe_keys(key: int, bits: int, flips_max: int, out: Any) -> int:
    """Write every ``bits``-bit key within ``flips_max`` bits of ``key`` to ``out``; the count."""
    count = 0
    limit = 1 << bits
    for flips in range(min(flips_max, bits) + 1):
        mask = (1 << flips) - 1
        while mask < limit:
            out[count] = key ^ mask
            count += 1
            if mask == 0:
                break
            # Gosper's hack: the next larger mask with the same number of bits set.
            low = mask & -mask
            ripple = mask + low
            mask = (((ripple ^ mask) >> 2) // low) | ripple
    return count


@numba.njit(cache=True, nogil=True)
def gather(
    postings: Any,
    rel: Any,
    base: Any,
    block_bits: int,
    table: int,
    keys: Any,
    count: int,
    firsts: Any,
    ends: Any,
    candidates: Any,
) -> tuple[Any, int, bool]:
    """Rows of the buckets ``keys[:count]`` of one table, appended to ``candidates``.

    Looking up every bucket's range first, then copying, keeps dozens of independent cache
    misses in flight instead of one chain of them per bucket (at 10M codes a query took
    0.42 ms instead of 0.75).
    """
    stored = postings.shape[1]
    corrupt = False
    total: Any = 0
    for index in range(count):
        value = keys[index]
        first = np.int64(base[table, value >> block_bits]) + np.int64(rel[table, value])
        end = np.int64(base[table, (value + 1) >> block_bits]) + np.int64(rel[table, value + 1])
        if first > end or end > stored:
            corrupt = True
            end = first
        firsts[index] = first
        ends[index] = end
        total += end - first
    if total > candidates.shape[0]:
        candidates = grown(candidates, total)
    found = 0
    for index in range(count):
        for position in range(firsts[index], ends[index]):
            candidates[found] = postings[table, position]
            found += 1
    return candidates, found, corrupt


@numba.njit(cache=True, nogil=True, inline="always")
def seen_earlier(
    row_code: Any, table: int, starts: Any, bits: int, thresholds: Any, keys: Any
) -> bool:
    """Whether an earlier probed table already reported the row with this code."""
    for earlier in range(table):
        allowed = thresholds[earlier]
        if allowed >= 0:
            part = substring(row_code, starts[earlier], bits)
            if popcount(part ^ keys[earlier]) <= allowed:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def verify(
    codes8: Any,
    codes64: Any,
    candidates: Any,
    found: int,
    query64: Any,
    radius: int,
    dead: Any,
    table: int,
    starts: Any,
    bits: int,
    thresholds: Any,
    keys: Any,
    query: int,
    out_query: Any,
    out_row: Any,
    out_distance: Any,
    count: int,
) -> tuple[int, bool]:
    """Append the live ``candidates[:found]`` within ``radius`` that no earlier table found.

    The output arrays must have room for ``found`` more rows. Returns the new count and
    whether a candidate row lay outside the codes (a damaged table).
    """  # fmt: skip
    corrupt = False
    for index in range(found):
        row = candidates[index]
        if row >= codes8.shape[0]:
            corrupt = True
            continue
        dist = distance(codes64, row, query64)
        if dist > radius or is_dead(dead, row):
            continue
        if seen_earlier(codes8[row], table, starts, bits, thresholds, keys):
            continue
        out_query[count] = query
        out_row[count] = row
        out_distance[count] = dist
        count += 1
    return count, corrupt


@numba.njit(cache=True, nogil=True)
def mih_search(
    codes8: Any,
    codes64: Any,
    postings: Any,
    rel: Any,
    base: Any,
    block_bits: int,
    starts: Any,
    bits: int,
    thresholds: Any,
    max_probes: int,
    dead: Any,
    queries8: Any,
    queries64: Any,
    radius: int,
) -> tuple[Any, Any, Any, bool]:
    """Rows within ``radius`` of each query, found through the substring tables.

    Table ``i`` is probed with every key within ``thresholds[i]`` bits of the query's
    substring (skipped when negative); ``max_probes`` bounds the keys of one table. A row
    found again by a later table is dropped when an earlier probed table covers it, so each
    row is reported once without a seen-set. Returns (query index, row, distance) in query
    order, and a corruption flag.
    """
    tables = starts.shape[0]
    out_query = np.empty(_INITIAL_RESULTS, np.int64)
    out_row = np.empty(_INITIAL_RESULTS, np.int64)
    out_distance = np.empty(_INITIAL_RESULTS, np.int32)
    count = 0
    candidates = np.empty(_INITIAL_CANDIDATES, np.int64)
    probes = np.empty(max_probes, np.int64)
    firsts = np.empty(max_probes, np.int64)
    ends = np.empty(max_probes, np.int64)
    keys = np.empty(tables, np.int64)
    corrupt = False
    for query in range(queries8.shape[0]):
        for table in range(tables):
            keys[table] = substring(queries8[query], starts[table], bits)
        for table in range(tables):
            if thresholds[table] < 0:
                continue
            probed = probe_keys(keys[table], bits, thresholds[table], probes)
            candidates, found, bad = gather(
                postings, rel, base, block_bits, table, probes, probed, firsts, ends, candidates
            )
            corrupt |= bad
            if count + found > out_row.shape[0]:
                # Room for every candidate up front keeps allocation out of the loop below.
                out_query = grown(out_query, count + found)
                out_row = grown(out_row, count + found)
                out_distance = grown(out_distance, count + found)
            count, bad = verify(
                codes8, codes64, candidates, found, queries64[query], radius, dead, table,
                starts, bits, thresholds, keys, query, out_query, out_row, out_distance, count,
            )  # fmt: skip
            corrupt |= bad
    return out_query[:count], out_row[:count], out_distance[:count], corrupt


@numba.njit(cache=True, nogil=True)
def scan_search(
    codes64: Any, rows: int, dead: Any, queries64: Any, radius: int
) -> tuple[Any, Any, Any]:
    """Rows ``< rows`` within ``radius`` of each query, by a full scan; (query, row, distance)."""
    out_query = np.empty(_INITIAL_RESULTS, np.int64)
    out_row = np.empty(_INITIAL_RESULTS, np.int64)
    out_distance = np.empty(_INITIAL_RESULTS, np.int32)
    count = 0
    hit_row = np.empty(_SCAN_BLOCK, np.int64)
    hit_distance = np.empty(_SCAN_BLOCK, np.int32)
    flat = codes64.reshape(-1)
    for query in range(queries64.shape[0]):
        # The query's words live in registers, and nothing in the inner loop can allocate:
        # a possible reallocation there (growing the output) halved the scan's speed.
        q0, q1 = queries64[query, 0], queries64[query, 1]
        q2, q3 = queries64[query, 2], queries64[query, 3]
        for first in range(0, rows, _SCAN_BLOCK):
            hits = 0
            for row in range(first, min(first + _SCAN_BLOCK, rows)):
                at = 4 * row
                dist = (
                    popcount(flat[at] ^ q0)
                    + popcount(flat[at + 1] ^ q1)
                    + popcount(flat[at + 2] ^ q2)
                    + popcount(flat[at + 3] ^ q3)
                )
                if dist <= radius:
                    hit_row[hits] = row
                    hit_distance[hits] = dist
                    hits += 1
            if count + hits > out_row.shape[0]:
                out_query = grown(out_query, count + hits)
                out_row = grown(out_row, count + hits)
                out_distance = grown(out_distance, count + hits)
            for hit in range(hits):
                if not is_dead(dead, hit_row[hit]):
                    out_query[count] = query
                    out_row[count] = hit_row[hit]
                    out_distance[count] = hit_distance[hit]
                    count += 1
    return out_query[:count], out_row[:count], out_distance[:count]


@numba.njit(cache=True, nogil=True)
def count_bits(words: Any) -> int:
    """How many bits are set in a ``uint64`` bitset."""
    total = 0
    for word in words:
        total += popcount(word)
    return total
