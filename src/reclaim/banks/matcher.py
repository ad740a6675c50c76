"""Look query signals up in banks: per-bank thresholds, quality floor, negative banks.

A match against a negative bank (known-benign content: stock photos, memes, logos)
suppresses matches to normal banks at the same distance or further for that signal.
PDQ hashes below quality 50 neither match nor are matched: near-featureless pictures
all hash alike, and matching them only wastes a support worker's day.

PDQ hashes and vPDQ frames are searched with :class:`reclaim.index.PdqIndex` (exact
radius search); a video is compared with the vPDQ rule only against the banked videos
that share at least one frame within the distance, which the rule requires anyway.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from reclaim.banks.anchored_lookup import (
    AnchoredCandidate,
    AnchoredQuery,
    BankedPicture,
    placed_matches,
)
from reclaim.banks.catalog import ARRAYS as CATALOG_ARRAYS
from reclaim.banks.catalog import Batch, Catalog, Kind
from reclaim.banks.match import Match, merge
from reclaim.banks.models import Bank, BankKind
from reclaim.banks.service import SignalRow
from reclaim.banks.shards import Shard
from reclaim.index import PdqIndex, hamming_distances
from reclaim.index.errors import IndexCorrupt
from reclaim.index.files import read_arrays, write_arrays
from reclaim.index.params import MihParams
from reclaim.index.segment import Snapshot
from reclaim.index.store import save_pdq
from reclaim.matching import anchored, verify
from reclaim.matching.clips import ClipRule
from reclaim.matching.verify import MIN_AGREEING_CELLS, GridEvidence, PackedGrid, compare_grids
from reclaim.matching.views import QueryViews
from reclaim.signals import pdq_anchors
from reclaim.signals.base import ExactSignal, Signal
from reclaim.signals.pdq import DIHEDRAL_NAMES, PDQ_MIN_QUALITY, PDQ_THRESHOLD, PdqSignal
from reclaim.signals.pdq_grid import GRID_CELLS, Grid
from reclaim.signals.vpdq import VpdqReferenceRule, VpdqSignal

SNAPSHOT_KIND = "reclaim.matcher-catalog"


class Frozen(NamedTuple):
    """What a matcher snapshot saves (see :mod:`reclaim.banks.snapshot`)."""

    catalog: dict[str, np.ndarray]
    pdq: Snapshot
    params: MihParams | None
    banks: list[int]
    items: int

    def write(self, directory: Path, meta: Mapping[str, Any]) -> None:
        """Save into the new ``directory``; :meth:`BankMatcher.restore` reads it back."""
        write_arrays(directory / "catalog", SNAPSHOT_KIND, meta, self.catalog)
        save_pdq(directory / "pdq", self.pdq, self.params)


class BankMatcher:
    """An in-memory, incrementally updated lookup structure over banked signals."""

    def __init__(self, banks: Sequence[Bank], shard: Shard | None = None) -> None:
        self.banks = {bank.id: bank for bank in banks}
        self.shard = shard  # holds only the signals in this shard (reclaim.banks.shards)
        self._catalog = Catalog()  # who owns each signal: arrays, not objects per item
        self._exact_key: dict[int, tuple[str, str]] = {}
        self._pdq = PdqIndex()
        self._frames = PdqIndex()
        self._frame_owner: dict[int, int] = {}  # frame id -> vpdq signal id
        self._frames_of: dict[int, list[int]] = {}
        self._videos: dict[int, VpdqSignal] = {}
        self._exact: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._next_frame = 0
        self._cells = PdqIndex()
        self._grids: dict[int, BankedPicture] = {}  # pdq signal id -> its grid
        # Anchored regions, id signal_id * pdq_anchors.MAX_REGIONS + region.
        self._anchored = PdqIndex()

    def __len__(self) -> int:
        return len(self._catalog)

    def add(self, rows: Iterable[SignalRow]) -> None:
        """Take in stored signals (their items must belong to this matcher's banks; an
        item already held must be removed first)."""
        self._take(rows, restoring=False)

    def _take(self, rows: Iterable[SignalRow], *, restoring: bool) -> None:
        """:meth:`add`; or, ``restoring``, the grids, videos and digests of signals a
        snapshot's catalog and PDQ index already hold."""
        pdq_ids: list[int] = []
        pdq_codes: list[str] = []
        frame_ids: list[int] = []
        frame_codes: list[str] = []
        cell_ids: list[int] = []
        cell_codes: list[str] = []
        region_ids: list[int] = []
        region_codes: list[str] = []
        batch = Batch()
        shard = self.shard
        for row in rows:  # the hot loop of a cold start: plain lists and local names
            video = (
                VpdqSignal.from_frames(json.loads(row.value)) if row.signal_type == "vpdq" else None
            )
            if shard is not None and not shard.holds(row, video):
                continue
            if not restoring:
                batch.item_ids.append(row.item_id)
                batch.public_ids.append(row.public_id)
                batch.labels.append(row.label)
                batch.bank_ids.append(row.bank_id)
                batch.signal_ids.append(row.signal_id)
                batch.owners.append(row.item_id)
            kind = Kind.OTHER
            if row.signal_type == "pdq":
                if (row.quality or 0) >= PDQ_MIN_QUALITY:
                    kind = Kind.PDQ if row.grid is None else Kind.GRID
                    if not restoring:
                        pdq_ids.append(row.signal_id)
                        pdq_codes.append(row.value)
                    if row.grid is not None:
                        self._add_grid(
                            row.signal_id,
                            row.value,
                            row.grid,
                            (cell_ids, cell_codes),
                            (region_ids, region_codes),
                        )
            elif video is not None:
                kind = Kind.VIDEO
                self._videos[row.signal_id] = video
                frames = []
                for frame in video.frames:
                    if frame.quality >= PDQ_MIN_QUALITY:
                        self._frame_owner[self._next_frame] = row.signal_id
                        frames.append(self._next_frame)
                        frame_ids.append(self._next_frame)
                        frame_codes.append(frame.value)
                        self._next_frame += 1
                self._frames_of[row.signal_id] = frames
            else:
                kind = Kind.EXACT
                self._exact[(row.signal_type, row.value)].add(row.signal_id)
                self._exact_key[row.signal_id] = (row.signal_type, row.value)
            batch.kinds.append(kind)
        if not restoring:
            self._catalog.put(batch)
        _index_add(self._pdq, pdq_codes, pdq_ids)
        _index_add(self._frames, frame_codes, frame_ids)
        _index_add(self._cells, cell_codes, cell_ids)
        _index_add(self._anchored, region_codes, region_ids)

    def _add_grid(
        self,
        signal_id: int,
        value: str,
        stored: str,
        cells: tuple[list[int], list[str]],
        regions: tuple[list[int], list[str]],
    ) -> None:
        """Keep a banked picture's grid for verification and index its usable cells
        (id ``signal_id * 9 + cell``) for overlay lookups and its usable anchored regions
        (id ``signal_id * pdq_anchors.MAX_REGIONS + region``) for crops and turns."""
        parsed = Grid.from_json(json.loads(stored))
        grid = PackedGrid.of(parsed)
        anchors = np.array([r.anchors for r in parsed.anchored], np.float32).reshape(-1, 4)
        self._grids[signal_id] = BankedPicture(_code(value), grid, parsed.size, anchors)
        for cell in np.flatnonzero(grid.usable()).tolist():
            cells[0].append(signal_id * _CELLS + cell)
            cells[1].append(grid.codes[cell].tobytes().hex())
        if parsed.size is None:
            return
        for number, region in enumerate(parsed.anchored):
            if region.quality >= pdq_anchors.MIN_QUALITY:
                regions[0].append(signal_id * pdq_anchors.MAX_REGIONS + number)
                regions[1].append(region.value)

    def remove(self, item_ids: Iterable[int]) -> None:
        """Forget items (withdrawn, or about to be re-added as they now are)."""
        pdq_gone: list[int] = []
        frames_gone: list[int] = []
        cells_gone: list[int] = []
        regions_gone: list[int] = []
        for signal_id, kind in self._catalog.remove(item_ids):
            if kind in (Kind.PDQ, Kind.GRID):
                pdq_gone.append(signal_id)
            known = self._grids.pop(signal_id, None)
            if known is not None:
                usable = np.flatnonzero(known.grid.usable())
                cells_gone.extend((signal_id * _CELLS + usable).tolist())
                regions = np.arange(len(known.anchors))
                regions_gone.extend((signal_id * pdq_anchors.MAX_REGIONS + regions).tolist())
            for frame_id in self._frames_of.pop(signal_id, []):
                self._frame_owner.pop(frame_id, None)
                frames_gone.append(frame_id)
            self._videos.pop(signal_id, None)
            exact_key = self._exact_key.pop(signal_id, None)
            if exact_key is not None:
                self._exact[exact_key].discard(signal_id)
                if not self._exact[exact_key]:
                    del self._exact[exact_key]
        if pdq_gone:
            self._pdq.remove(np.array(pdq_gone, dtype=np.int64))
        if frames_gone:
            self._frames.remove(np.array(frames_gone, dtype=np.int64))
        if cells_gone:
            self._cells.remove(np.array(cells_gone, dtype=np.int64))
        if regions_gone:
            self._anchored.remove(np.array(regions_gone, dtype=np.int64))

    def freeze(self) -> Frozen:
        """The bulk -- the catalog and the PDQ index -- as immutable arrays that
        :meth:`Frozen.write` can save while this matcher goes on changing (call it where
        the matcher's changes are serialised)."""
        catalog = self._catalog.arrays()
        return Frozen(catalog, self._pdq.snapshot, self._pdq.params, sorted(self.banks), len(self))

    @classmethod
    def restore(
        cls,
        directory: Path,
        banks: Sequence[Bank],
        rows_of: Callable[[list[int]], Iterable[SignalRow]],
        shard: Shard | None = None,
    ) -> tuple[dict[str, Any], BankMatcher]:
        """A matcher from a directory :meth:`Frozen.write` wrote, and the ``meta`` saved
        with it. Grids, videos and digests are taken in again from ``rows_of(signal
        ids)``. Raises ``IndexCorrupt`` when the files are damaged or do not fit together."""
        meta, arrays = read_arrays(
            directory / "catalog", SNAPSHOT_KIND, CATALOG_ARRAYS, mmap=True, verify=False
        )
        try:
            catalog = Catalog.from_arrays(arrays)
        except ValueError as error:
            raise IndexCorrupt(f"{directory}: {error}") from None
        pdq = PdqIndex.load(directory / "pdq", mmap=True)
        kinds = arrays["kinds"]
        indexed = arrays["signal_ids"][np.isin(kinds, [Kind.PDQ, Kind.GRID])]
        if not np.array_equal(pdq.snapshot.live_ids(), indexed):
            raise IndexCorrupt(f"{directory}: the PDQ index and the catalog disagree")
        matcher = cls(banks, shard)
        matcher._catalog, matcher._pdq = catalog, pdq
        rich = np.isin(kinds, [Kind.GRID, Kind.VIDEO, Kind.EXACT])
        matcher._take(rows_of(arrays["signal_ids"][rich].tolist()), restoring=True)
        return meta, matcher

    def item_ids(self, public_ids: Iterable[str]) -> list[int]:
        """The internal ids of the items with these public ids that the matcher holds."""
        return self._catalog.find_public(public_ids)

    def match(self, signals: Sequence[Signal]) -> list[Match]:
        """Every match of ``signals``, negative-bank suppression applied, closest first."""
        found: list[Match] = []
        for signal in signals:
            found.extend(merge([self.match_unmerged(signal)]))
        return sorted(found, key=lambda m: (m.distance, m.bank, m.item_id))

    def match_unmerged(self, signal: Signal) -> list[Match]:
        """The matches of one signal before negative-bank suppression (:func:`merge`
        applies it to several shards' answers together)."""
        return self._match_one(signal)

    def match_for_shard(
        self, signal: Signal, anchored: AnchoredQuery | None
    ) -> tuple[list[Match], list[AnchoredCandidate]]:
        """What a shard answers for one signal: its matches before negative-bank
        suppression, and the banked pictures the query's ``anchored`` regions matched,
        for the caller (who holds the pixels) to place (:mod:`reclaim.banks.anchored_lookup`)."""
        if not isinstance(signal, PdqSignal):
            return self._match_one(signal), []
        matches, found = self._lookup_pdq(signal)
        if anchored is None or not self._usable(signal):
            return matches, []
        return matches, self.anchored_candidates(anchored, exclude=found)

    def _match_one(self, signal: Signal) -> list[Match]:
        if isinstance(signal, PdqSignal):
            return self._match_pdq(signal)
        if isinstance(signal, VpdqSignal):
            return self._match_vpdq(signal)
        if isinstance(signal, ExactSignal):
            ids = self._exact.get((signal.type, signal.value), set())
            return [self._make(s, signal.type, 0) for s in sorted(ids)]
        return []

    def _radius(self) -> int:
        return max((_threshold(b) for b in self.banks.values()), default=PDQ_THRESHOLD)

    def _match_pdq(self, signal: PdqSignal) -> list[Match]:
        """The hash lookups (:meth:`_lookup_pdq`), then, when the query carries its
        pixels, the anchored search for crops and turned copies."""
        out, found = self._lookup_pdq(signal)
        if self._usable(signal) and isinstance(signal.views, QueryViews):
            query = signal.views.anchoring
            sent = AnchoredQuery.of(query)
            out += placed_matches(query, sent, self.anchored_candidates(sent, exclude=found))
        return out

    def _usable(self, signal: PdqSignal) -> bool:
        return signal.quality >= PDQ_MIN_QUALITY and len(self._pdq) > 0

    def _lookup_pdq(self, signal: PdqSignal) -> tuple[list[Match], set[int]]:
        """The query, its 7 rotations and mirrors when it carries them, and its regions
        (the picture inside bars or app chrome); then its grid cells, in place, for
        copies with an overlay. Every candidate whose item and query both carry a grid is
        verified cell by cell (:mod:`reclaim.matching.verify`). Each item is reported
        once, through the lookup closest to it, with its evidence. Also the signals
        found (which the anchored search need not look at again)."""
        if not self._usable(signal):
            return [], set()
        whole = (
            zip(DIHEDRAL_NAMES, signal.dihedral, strict=True)
            if signal.dihedral
            else [("original", signal.value)]
        )
        lookups = [(variant, "whole", value) for variant, value in whole]
        lookups += [("original", region, value) for region, value in signal.regions]
        lookups += [(variant, region, value) for region, variant, value in signal.turned_regions]
        best: dict[int, tuple[int, str, str]] = {}
        for variant, region, value in lookups:
            ids, distances = self._pdq.search(_code(value), self._radius())
            for signal_id, distance in zip(ids.tolist(), distances.tolist(), strict=True):
                if distance <= self._threshold_of(signal_id) and (
                    signal_id not in best or distance < best[signal_id][0]
                ):
                    best[signal_id] = (distance, variant, region)
        out = []
        for signal_id, (distance, variant, region) in best.items():
            evidence = self._verify(signal, signal_id, region, variant)
            unconfirmed = evidence is None or evidence.agreeing == 0
            if (
                variant != "original"
                and distance > verify.UNCONFIRMED_VARIANT_DISTANCE
                and unconfirmed
            ):
                continue  # eight lookups, eight chances: a far turned match needs a cell
            if evidence is None or not evidence.vetoes:
                out.append(self._pdq_match(signal_id, distance, variant, region, evidence))
        found = set(best)
        for signal_id, evidence in self._overlay_candidates(signal, exclude=found):
            found.add(signal_id)
            banked = self._grids[signal_id].whole[None]
            distance = int(hamming_distances(banked, _code(signal.value))[0])
            out.append(self._pdq_match(signal_id, distance, "original", "grid", evidence))
        return out, found

    def _threshold_of(self, signal_id: int) -> int:
        return _threshold(self.banks[self._catalog.bank_of(signal_id)])

    def _verify(
        self, signal: PdqSignal, signal_id: int, region: str, variant: str
    ) -> GridEvidence | None:
        known = self._grids.get(signal_id)
        if known is None:
            return None
        query = signal.grid_of(region, variant, known.size)
        if query is None:
            return None
        return compare_grids(PackedGrid.of(query), known.grid, self._threshold_of(signal_id))

    def _overlay_candidates(
        self, signal: PdqSignal, exclude: Iterable[int]
    ) -> list[tuple[int, GridEvidence]]:
        """Items at least two of whose cells the query's cells match in place."""
        if signal.grid is None or not len(self._cells):
            return []
        grids = [("whole", signal.grid)]
        for region, _ in signal.regions:  # a caption on a copy inside bars or app chrome
            grid = signal.grid_of(region, "original") if region != "resized" else None
            if grid is not None:
                grids.append((region, grid))
        skip = set(exclude)
        out = []
        for view, grid in grids:
            query = PackedGrid.of(grid)
            agreeing: dict[int, int] = defaultdict(int)
            usable = np.flatnonzero(query.usable())
            found = self._cells.search_batch(query.codes[usable], self._radius())
            for cell, (ids, distances) in zip(usable.tolist(), found, strict=True):
                for cell_id, distance in zip(ids.tolist(), distances.tolist(), strict=True):
                    signal_id, banked_cell = divmod(cell_id, _CELLS)
                    if banked_cell == cell and distance <= self._threshold_of(signal_id):
                        agreeing[signal_id] += 1
            for signal_id, count in agreeing.items():
                if count < MIN_AGREEING_CELLS or signal_id in skip:
                    continue
                evidence = self._verify(signal, signal_id, view, "original")
                if evidence is not None and not evidence.vetoes:
                    skip.add(signal_id)
                    out.append((signal_id, evidence))
        return out

    def anchored_candidates(
        self, query: AnchoredQuery, *, exclude: set[int]
    ) -> list[AnchoredCandidate]:
        """The banked pictures (but those in ``exclude``) some of whose anchored regions
        the query's match, as given or mirrored, by picture and frame."""
        if not len(self._anchored) or not len(query.codes):
            return []
        hits: dict[tuple[int, int], list[tuple[int, int, int]]] = defaultdict(list)
        radius = min(self._radius(), anchored.RADIUS)
        found = self._anchored.search_batch(query.codes, radius)
        for position, (ids, distances) in enumerate(found):
            frame = int(query.frames[position])
            for region_id, distance in zip(ids.tolist(), distances.tolist(), strict=True):
                signal_id, region = divmod(region_id, pdq_anchors.MAX_REGIONS)
                if signal_id not in exclude and distance <= self._threshold_of(signal_id):
                    hits[(signal_id, frame)].append((position, region, distance))
        return [
            AnchoredCandidate(
                key=signal_id,
                frame=frame,
                matched=matched,
                banked=self._grids[signal_id],
                threshold=self._threshold_of(signal_id),
                item=self._make(signal_id, "pdq", 0),
            )
            for (signal_id, frame), matched in sorted(hits.items())
        ]

    def _pdq_match(
        self,
        signal_id: int,
        distance: int,
        variant: str,
        region: str,
        evidence: GridEvidence | None,
    ) -> Match:
        extra: dict[str, Any] = {"variant": variant, "region": region}
        if evidence is not None:
            extra["regions_matched"] = evidence.agreeing
            extra["regions_compared"] = evidence.compared
        return self._make(signal_id, "pdq", distance, extra)

    def _match_vpdq(self, signal: VpdqSignal) -> list[Match]:
        """Each banked video sharing a frame with the query (or with one of its views:
        the picture inside bars, the frames mirrored) is compared by the reference vPDQ
        rule and by the clip rule (a cut of a longer video, in time order); the closest
        result per video is reported with its time ranges."""
        views = [("whole", signal), *((name, signal.view(name)) for name, _ in signal.views)]
        best: dict[int, tuple[float, dict[str, Any]]] = {}
        for view, frames in views:
            for signal_id, anchors in self._video_anchors(frames).items():
                found = self._compare_video(frames, signal_id, anchors, reference=view == "whole")
                if found is None:
                    continue
                coverage, evidence = found
                evidence["region"] = "content" if view.startswith("content") else "whole"
                evidence["variant"] = "flipy" if view.endswith("flipy") else "original"
                if signal_id not in best or coverage > best[signal_id][0]:
                    best[signal_id] = (coverage, evidence)
        # A video match's distance: the share of the query not found, in percent.
        return [
            self._make(signal_id, "vpdq", round(100 - coverage), evidence)
            for signal_id, (coverage, evidence) in sorted(best.items())
        ]

    def _video_anchors(self, signal: VpdqSignal) -> dict[int, np.ndarray]:
        """Per banked video, the (query frame, banked frame) pairs within its bank's
        threshold, as positions among each video's frames of quality >= 50: the index
        finds them, so a long banked video is never compared frame by frame."""
        found: dict[int, list[tuple[int, int]]] = defaultdict(list)
        if not len(self._frames):
            return {}
        radius = self._radius()
        usable = (f for f in signal.frames if f.quality >= PDQ_MIN_QUALITY)
        for position, frame in enumerate(usable):
            ids, distances = self._frames.search(_code(frame.value), radius)
            for frame_id, distance in zip(ids.tolist(), distances.tolist(), strict=True):
                signal_id = self._frame_owner[frame_id]
                if distance <= self._threshold_of(signal_id):
                    found[signal_id].append((position, frame_id - self._frames_of[signal_id][0]))
        return {signal_id: np.array(pairs, dtype=np.int64) for signal_id, pairs in found.items()}

    def _compare_video(
        self, query: VpdqSignal, signal_id: int, anchors: np.ndarray, *, reference: bool
    ) -> tuple[float, dict[str, Any]] | None:
        threshold = self._threshold_of(signal_id)
        target = self._videos[signal_id]
        whole = VpdqReferenceRule(distance=threshold).compare(query, target) if reference else None
        clip = ClipRule(distance=threshold).compare(query, target, anchors)
        if whole is None and clip is None:
            return None
        evidence: dict[str, Any] = {}
        if clip is not None:
            evidence = {
                "rule": ClipRule.name,
                "time_range": list(clip.time_range),
                "target_time_range": list(clip.target_time_range),
                "query_coverage": clip.query_coverage,
                "target_coverage": clip.target_coverage,
                "frames_matched": clip.agreeing,
                "frames_compared": clip.aligned,
            }
        if whole is not None:  # the reference's verdict and shares take precedence
            evidence["rule"] = VpdqReferenceRule.name
            evidence["query_coverage"] = round(whole.query_match_percent, 1)
            evidence["target_coverage"] = round(whole.target_match_percent, 1)
        return float(evidence["query_coverage"]), evidence

    def _make(
        self, signal_id: int, signal: str, distance: int, extra: dict[str, Any] | None = None
    ) -> Match:
        item = self._catalog.item(self._catalog.owner(signal_id))
        bank = self.banks[item.bank_id]
        return Match(
            bank=bank.name,
            item=item.label,
            item_id=item.public_id,
            signal=signal,
            distance=distance,
            negative=bank.kind is BankKind.NEGATIVE,
            extra=extra or {},
        )


_CELLS = len(GRID_CELLS)


def _code(value: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(value), dtype=np.uint8)


def _index_add(index: PdqIndex, codes: list[str], ids: list[int]) -> None:
    if ids:
        index.add(
            np.frombuffer(bytes.fromhex("".join(codes)), dtype=np.uint8).reshape(-1, 32),
            np.array(ids, dtype=np.int64),
        )
    if index.needs_compaction:  # a large delta is scanned by brute force: fold it in
        index.compact()


def _threshold(bank: Bank) -> int:
    return bank.threshold if bank.threshold is not None else PDQ_THRESHOLD
