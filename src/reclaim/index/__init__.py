"""Matching index over signals: exact radius search for PDQ codes, hash tables for digests.

- :class:`PdqIndex` -- every id within Hamming distance ``r`` (inclusive) of a 256-bit PDQ
  code (or vPDQ frame code), with its distance, sorted by (distance, id): exactly what
  :func:`brute_force_search` (the reference definition, kept separate) returns. Tuned for
  radius 31, PDQ's match threshold; correct for every radius.
- :class:`ExactIndex` -- SHA-256 / MD5 digest -> ids.
- :func:`hex_to_codes` / :func:`codes_to_hex` -- codes are ``uint8[n, 32]`` in
  ``bytes.fromhex`` order (byte 0 = the first two hex digits); the kernels view them as
  ``uint64[n, 4]`` for POPCNT.

How PdqIndex works, and why these parameters
--------------------------------------------
Multi-index hashing (Norouzi et al.): the first ``m * b`` bits of each code are cut into
``m`` substrings of ``b`` bits and each substring gets a table. If a code is within ``r``
of the query, then for thresholds ``t_i`` with ``sum(t_i + 1) = r + 1`` some substring ``i``
is within ``t_i`` of the query's (else the distance would be at least ``r + 1``). A query
probes every key within ``t_i`` of its substring in table ``i`` and verifies each
candidate with four POPCNTs over the full code; a row found by several tables is reported
by the first only (a check on its substrings, no seen-set). Spreading ``t_i`` evenly is
the generalised pigeonhole of Qin et al.: at r = 31 with m = 11 it gives ten tables at 2
bits and one at 1, instead of eleven at 2 (``floor(r/m)``) -- 2794 bucket probes, not
3047. Small radii skip tables: at r = 8 nine tables are probed at 0 bits (9 probes).

Chosen at 10M codes: **m = 11 substrings of b = 23 bits** (253 of the 256 bits index;
all 256 verify), directories in blocks of 32 buckets. Expected candidates per query at
r = 31: 10M x 2794 / 2^23 = 3,300. ``MihParams.for_size`` sets ``b = round(log2 n)``
(capped at 23) so a bucket holds about one code -- 20 bits at 1M -- and keeps m = 11.

Table layout (CSR, no hash map anywhere): per table, ``postings`` holds every row sorted
by its substring (``uint32``, 4 bytes per code), and bucket ``v`` spans
``postings[off(v):off(v+1)]`` with ``off(v) = base[v >> 5] + rel[v]`` -- a ``uint32`` per
block of 32 buckets plus a ``uint8`` within the block. Plain ``uint32`` offsets would add
37 bytes per code at 10M; these add 10. Rows are sorted by id, so ``ids`` is itself the
id -> row map (binary search). Memory at 10M: codes 32 + ids 8 + postings 44 +
directories 10 + tombstones 0.1 = **94.5 bytes per code (2.95x the raw 32)**.

Measured with the compiled kernel alone, every layout of a size built in one process and
timed in turns (5 rounds of 300 queries at r = 31, median; 2-core AMD EPYC VM, where
absolute times vary by up to 40% from one process to the next):

========  ======  ========  ==========  ==========  ==================================
codes     m x b   ms/query  candidates  bytes/code  note
========  ======  ========  ==========  ==========  ==================================
10M       11x23   0.40      3,331       94.4        chosen
10M       11x22   0.57      6,111       89.8        half the directory, 2x candidates
10M       10x24   0.63      4,207       98.9        two tables need t = 3: 7,058 probes
10M       12x21   0.76      9,270       91.8
10M       10x23   0.81      7,524       89.4
10M       11x21   0.86      11,168      87.5
1M        11x20   0.23      2,032       97.0        chosen (b = round(log2 n))
1M        12x20   0.19      1,690       102.2
1M        11x21   0.20      1,117       110.0
1M        13x19   0.22      2,453       100.5
1M        11x19   0.33      3,681       91.2
1M        11x23   0.15      333         187.8       the directories dominate memory
========  ======  ========  ==========  ==========  ==================================

HMA's faiss ``IndexBinaryMultiHash(256, 16, 16)`` with ``nflip = 1`` probes only 272
buckets but, with 16-bit keys, finds ~41,000 candidates at 10M in ``unordered_map``s:
``bench/index.py`` measures it slower than the flat scan. Three kernel details were worth
measuring: looking up all bucket ranges of a table before copying postings keeps many
cache misses in flight (0.75 -> 0.42 ms at 10M); the scan's inner loop must not contain a
possible reallocation (2x); the counting sort's count loop must not share a loop with the
key stores (3x faster build). Beyond r ~ 56 at 10M (~44 at 1M) probing costs more than
reading every code, and a cost model in :class:`MihParams` switches to a compiled scan.

Updates, concurrency and files: see :mod:`reclaim.index.pdq` (delta + tombstones,
snapshot swap), :mod:`reclaim.index.files` (atomic directory) and
:mod:`reclaim.index.store` (what is checked on load). faiss is used by the benchmark
only, never here.
"""

from __future__ import annotations

from reclaim.index.brute import brute_force_search, hamming_distances
from reclaim.index.codes import (
    CODE_BITS,
    CODE_BYTES,
    as_code,
    as_codes,
    code_to_hex,
    codes_to_hex,
    hex_to_code,
    hex_to_codes,
)
from reclaim.index.errors import IndexCorrupt, InvalidCodes, MatchIndexError, NotAnIndex
from reclaim.index.exact import ExactIndex
from reclaim.index.params import MihParams
from reclaim.index.pdq import PdqIndex

__all__ = [
    "CODE_BITS",
    "CODE_BYTES",
    "ExactIndex",
    "IndexCorrupt",
    "InvalidCodes",
    "MatchIndexError",
    "MihParams",
    "NotAnIndex",
    "PdqIndex",
    "as_code",
    "as_codes",
    "brute_force_search",
    "code_to_hex",
    "codes_to_hex",
    "hamming_distances",
    "hex_to_code",
    "hex_to_codes",
]
