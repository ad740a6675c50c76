"""Parameters of the multi-index hashing tables, and the rules that pick them.

A main segment splits the first ``tables * bits`` bits of every code into ``tables``
substrings of ``bits`` bits (the remaining bits are only used to verify). For a query at
radius ``r`` it probes table ``i`` with every key within ``t_i`` bits of the query's
substring, where ``sum(t_i + 1) = r + 1`` (a table with ``t_i = -1`` is not probed). That is
the generalised pigeonhole principle: if a code differed from the query in more than
``t_i`` bits of every probed substring, it would differ in at least ``sum(t_i + 1) = r + 1``
bits in all. The thresholds are spread as evenly as possible because the cost of one table
grows with the number of keys within ``t`` bits, ``sum_{j<=t} C(bits, j)``, much faster
than linearly in ``t``. At r = 31 with 11 tables that gives ten tables at 2 bits and one
at 1 bit.

When the tables would cost more than reading every code (a large radius, or few codes),
the segment is scanned instead; ``use_tables`` decides with a cost model whose constants
were measured on the development machine (below).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reclaim.index.codes import CODE_BITS

# Costs in nanoseconds of one probed bucket (a directory lookup, mostly a cache miss), one
# candidate (a posting and a code read, usually cache misses) and one code read by the
# sequential scan, fitted to per-radius timings on the 2-core AMD EPYC VM. Measured, the
# tables beat the scan up to r = 44 at 1M codes and r = 57 at 10M (at r = 64 they take
# 17 ms against a 2.8 ms scan at 1M, 68 ms against 40 ms at 10M); this model switches
# after r = 44 and r = 56.
_NS_PER_PROBE = 60.0
_NS_PER_CANDIDATE = 60.0
_NS_PER_SCANNED = 3.5
_MAX_BITS = 24  # a 2^24-entry directory per table is 16 MiB of rel offsets: the most we allow
_MIN_TABLE_ROWS = 4096  # below this a scan of the segment costs microseconds anyway


@dataclass(frozen=True, slots=True)
class MihParams:
    """``tables`` substrings of ``bits`` bits; directory blocks of ``2**block_bits`` buckets.

    ``tables == 0`` means the segment has no tables and is always scanned.
    """

    tables: int
    bits: int
    block_bits: int

    def __post_init__(self) -> None:
        if self.tables < 0:
            raise ValueError(f"tables must not be negative, not {self.tables}")
        if self.tables == 0:
            return
        if not 1 <= self.bits <= _MAX_BITS or self.tables * self.bits > CODE_BITS:
            raise ValueError(f"{self.tables} tables of {self.bits} bits do not fit 256 bits")
        if not 0 <= self.block_bits <= self.bits:
            raise ValueError(f"block_bits must be within 0..{self.bits}, not {self.block_bits}")

    @classmethod
    def scan_only(cls) -> MihParams:
        """No tables: every query scans the segment."""
        return cls(tables=0, bits=0, block_bits=0)

    @classmethod
    def for_size(cls, rows: int) -> MihParams:
        """The parameters for a segment of ``rows`` codes, tuned for radius 31.

        ``bits`` follows the size so that buckets hold about one code (2^bits near rows):
        fewer bits leave more candidates to verify, more bits mostly add directory memory.
        ``tables`` is then as many substrings as fit, capped at 11 so that the postings
        (4 bytes per code per table) keep the whole index under 96 bytes per code.
        """
        if rows < _MIN_TABLE_ROWS:
            return cls.scan_only()
        bits = max(12, min(_MAX_BITS - 1, round(math.log2(rows))))
        tables = min(11, CODE_BITS // bits)
        # Blocks of buckets that hold about 48 codes between them keep rel offsets in uint8.
        per_bucket = rows / float(1 << bits)
        block_bits = max(0, min(bits, int(math.log2(48.0 / per_bucket)))) if per_bucket < 48 else 0
        return cls(tables=tables, bits=bits, block_bits=block_bits)

    @property
    def starts(self) -> npt.NDArray[np.int64]:
        """The first bit of each substring (read-only)."""
        return _probe(self, 0).starts

    def thresholds(self, radius: int) -> npt.NDArray[np.int64]:
        """Bits of difference probed per table at ``radius``; -1 skips a table (read-only)."""
        return _probe(self, radius).thresholds

    def keys_per_table(self, radius: int) -> tuple[int, ...]:
        """How many bucket keys each table probes at ``radius``."""
        return _probe(self, radius).keys

    def use_tables(self, radius: int, rows: int) -> bool:
        """Whether probing the tables is expected to beat scanning ``rows`` codes."""
        if self.tables == 0:
            return False
        probes = sum(self.keys_per_table(radius))
        candidates = rows * probes / float(1 << self.bits)
        table_cost = _NS_PER_PROBE * probes + _NS_PER_CANDIDATE * candidates
        return table_cost < _NS_PER_SCANNED * rows


@dataclass(frozen=True, slots=True, eq=False)
class _Probe:
    starts: npt.NDArray[np.int64]
    thresholds: npt.NDArray[np.int64]
    keys: tuple[int, ...]


@functools.lru_cache(maxsize=4096)
def _probe(params: MihParams, radius: int) -> _Probe:
    # Cached: recomputing this in Python cost more than a whole query on a small index.
    level, extra = divmod(radius + 1, max(1, params.tables))
    thresholds = np.array(
        [level if table < extra else level - 1 for table in range(params.tables)], dtype=np.int64
    )
    keys = tuple(
        sum(math.comb(params.bits, flips) for flips in range(min(int(t), params.bits) + 1))
        for t in thresholds
    )
    starts = np.arange(params.tables, dtype=np.int64) * params.bits
    thresholds.flags.writeable = False
    starts.flags.writeable = False
    return _Probe(starts, thresholds, keys)
