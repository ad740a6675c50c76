"""Splitting the banks over groups of matcher machines, by hash prefix.

When one machine's memory cannot hold the whole index, each matcher process is given a
shard, ``RECLAIM_MATCHER_SHARD=k/n``: it holds only the banked signals whose hash starts in
the k-th of n equal ranges of 16-bit prefixes (a PDQ hash or a digest by its own first
bits, a video by its first frame's). A near-duplicate can lie in any range -- its bits
differ anywhere -- so every lookup goes to every shard: the API processes
(``RECLAIM_MATCHER_SHARDS``, one URL per shard, in order) send each request's signals to
all of them at once and merge what they find. Negative-bank suppression is applied after
the merge, since the negative match and the normal one may be held by different shards.
A shard that does not answer fails the lookup (503): a partial answer would silently miss
matches. A picture whose pixels the caller holds also sends its anchored regions' codes;
each shard answers the banked pictures they matched and the caller places them
(:func:`merge_answers`, :mod:`reclaim.banks.anchored_lookup`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reclaim.banks.anchored_lookup import AnchoredCandidate, AnchoredQuery, placed_matches
from reclaim.banks.match import Match, merge
from reclaim.banks.service import SignalRow
from reclaim.matching.anchored import QueryAnchoring

if TYPE_CHECKING:
    from reclaim.signals.vpdq import VpdqSignal

_SPEC = re.compile(r"(\d{1,3})/(\d{1,3})")
_PREFIX = 1 << 16


@dataclass(frozen=True, slots=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """``"k/n"``: shard k (from 0) of n (at most 256)."""
        found = _SPEC.fullmatch(spec.strip())
        if found is None:
            raise ValueError(f"a shard is written k/n, e.g. 0/4 (got {spec!r})")
        index, count = int(found[1]), int(found[2])
        if not 0 < count <= 256 or not 0 <= index < count:
            raise ValueError(f"shard {spec!r}: need 0 <= k < n <= 256")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, row: SignalRow, video: VpdqSignal | None = None) -> bool:
        """Whether this shard keeps the signal of ``row`` (``video``: a vPDQ row's value,
        already parsed)."""
        return self.of_prefix(_prefix(row, video)) == self.index

    def of_prefix(self, prefix: int) -> int:
        return prefix * self.count // _PREFIX


def merge_answers(
    answers: Sequence[tuple[Sequence[Match], Sequence[AnchoredCandidate]]],
    anchored: tuple[QueryAnchoring, AnchoredQuery] | None = None,
) -> list[Match]:
    """One signal's answer from every shard's (its matches, and the banked pictures its
    ``anchored`` regions matched, placed here in the query's pixels): the unsplit
    matcher's answer."""
    found = [list(matches) for matches, _ in answers]
    if anchored is not None:
        query, sent = anchored
        for _, candidates in answers:  # keys are unique within one shard's answer
            found.append(placed_matches(query, sent, candidates))
    return merge(found)


def _prefix(row: SignalRow, video: VpdqSignal | None) -> int:
    """The first 16 bits of what identifies the signal: its hash, or a video's first
    frame's hash (0 when it has none or the value is not hex)."""
    value = row.value
    if video is not None:
        value = video.frames[0].value if video.frames else ""
    elif row.signal_type == "vpdq":
        frames = json.loads(value)
        value = str(frames[0].get("value", "")) if frames and isinstance(frames[0], dict) else ""
    try:
        return int(value[:4], 16) if len(value) >= 4 else 0
    except ValueError:
        return 0
