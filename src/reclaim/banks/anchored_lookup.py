"""The anchored part of a picture lookup in two halves: the index lookup, which needs the
banks, and the placement, which needs the query's pixels.

A query's anchored regions (:class:`reclaim.matching.anchored.QueryAnchoring`) are looked
up in the banked pictures' anchored regions; each banked picture some of them matched is
an :class:`AnchoredCandidate`, carrying what placing it in the query needs (its anchors,
PDQ, grid cells and size). :func:`place_candidates` places each and accepts it when what
the query holds of it matches. In one process (:class:`reclaim.banks.matcher.BankMatcher`)
both halves run together; with the banks split over matcher shards, an API process sends
the query's region codes (:class:`AnchoredQuery`, a few dozen kilobytes; the pixels never
leave it), every shard answers its candidates, and the API process places them. Either
way the result is the same, bit for bit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from reclaim.banks.match import Match
from reclaim.matching.anchored import AnchoredEvidence, QueryAnchoring, check_placement
from reclaim.matching.verify import PackedGrid
from reclaim.signals import pdq_anchors

MAX_CODES = 20_000
"""Anchored region codes one query may send (a 1600-pixel photo has about 600)."""


class AnchoredFormatError(ValueError):
    """An anchored query or candidate that is not well formed."""


@dataclass(frozen=True, slots=True)
class AnchoredQuery:
    """The usable anchored regions of a query: their codes, which frame each belongs to
    (0 as given, 1 mirrored), and their positions among all the query's regions."""

    codes: npt.NDArray[np.uint8]  # (n x 32)
    frames: npt.NDArray[np.int8]  # (n)
    positions: npt.NDArray[np.int64]  # (n); not sent: the sender maps answers back

    @classmethod
    def of(cls, query: QueryAnchoring) -> AnchoredQuery:
        usable = np.flatnonzero(query.quality >= pdq_anchors.MIN_QUALITY)
        return cls(
            np.ascontiguousarray(query.codes[usable]),
            query.frame[usable].astype(np.int8),
            usable.astype(np.int64),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "codes": base64.b64encode(self.codes.tobytes()).decode(),
            "frames": base64.b64encode(self.frames.tobytes()).decode(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnchoredQuery:
        """What :meth:`to_json` wrote (positions are then 0..n-1)."""
        try:
            codes = base64.b64decode(str(data["codes"]), validate=True)
            frames = base64.b64decode(str(data["frames"]), validate=True)
        except (KeyError, binascii.Error) as error:
            raise AnchoredFormatError(f"anchored regions: {error}") from None
        count = len(frames)
        if len(codes) != 32 * count:
            raise AnchoredFormatError("anchored regions: 32 bytes of code per frame number")
        if count > MAX_CODES:
            raise AnchoredFormatError(f"anchored regions: more than {MAX_CODES:,}")
        parsed = np.frombuffer(frames, np.int8)
        if not np.isin(parsed, (0, 1)).all():
            raise AnchoredFormatError("anchored regions: a frame is 0 or 1")
        return cls(
            np.frombuffer(codes, np.uint8).reshape(count, 32),
            parsed,
            np.arange(count, dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class BankedPicture:
    """What placing a banked picture needs: its PDQ, its grid cells, the size the grid
    was made at, and each anchored region's anchors (regions x 4: px, py, qx, qy)."""

    whole: npt.NDArray[np.uint8]
    grid: PackedGrid
    size: tuple[int, int] | None
    anchors: npt.NDArray[np.float32]

    def to_json(self) -> dict[str, Any]:
        return {
            "whole": self.whole.tobytes().hex(),
            "cells": [code.tobytes().hex() for code in self.grid.codes],
            "quality": self.grid.quality.tolist(),
            "size": None if self.size is None else list(self.size),
            "anchors": self.anchors.tolist(),  # float32 -> float -> float32 is exact
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BankedPicture:
        try:
            whole = np.frombuffer(bytes.fromhex(data["whole"]), np.uint8)
            cells = [np.frombuffer(bytes.fromhex(c), np.uint8) for c in data["cells"]]
            quality = np.array(data["quality"], np.int16)
            size = data["size"]
            anchors = np.array(data["anchors"], np.float32).reshape(-1, 4)
        except (KeyError, TypeError, ValueError) as error:
            raise AnchoredFormatError(f"banked picture: {error}") from None
        if len(whole) != 32 or len(cells) != len(quality) or any(len(c) != 32 for c in cells):
            raise AnchoredFormatError("banked picture: codes of 32 bytes, one quality each")
        if not np.isfinite(anchors).all():
            raise AnchoredFormatError("banked picture: anchors are finite")
        if size is not None and not (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(v, int) and 0 < v <= 1 << 16 for v in size)
        ):
            raise AnchoredFormatError("banked picture: a size is [width, height]")
        grid = PackedGrid(np.array(cells, np.uint8).reshape(-1, 32), quality)
        return cls(whole, grid, None if size is None else (size[0], size[1]), anchors)


@dataclass(frozen=True, slots=True)
class AnchoredCandidate:
    """A banked picture some of whose anchored regions the query's matched."""

    key: int
    """Which banked picture (unique among one matcher's candidates)."""
    frame: int
    """The query's frame the regions matched in: 0 as given, 1 mirrored."""
    matched: list[tuple[int, int, int]]
    """(index into the :class:`AnchoredQuery`, banked region, distance) of each match."""
    banked: BankedPicture
    threshold: int
    item: Match
    """The banked item, at distance 0 and without evidence."""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "frame": self.frame,
            "matched": [list(m) for m in self.matched],
            "banked": self.banked.to_json(),
            "threshold": self.threshold,
            "item": self.item.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], sent: int) -> AnchoredCandidate:
        """A shard's answer to a query of ``sent`` regions, checked so that placing it
        cannot index outside either side."""
        try:
            banked = BankedPicture.from_json(data["banked"])
            matched = [(int(p), int(r), int(d)) for p, r, d in data["matched"]]
            candidate = cls(
                key=int(data["key"]),
                frame=int(data["frame"]),
                matched=matched,
                banked=banked,
                threshold=int(data["threshold"]),
                item=Match.from_json(data["item"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AnchoredFormatError(f"anchored candidate: {error}") from None
        regions = len(banked.anchors)
        if (
            not matched
            or candidate.frame not in (0, 1)
            or not all(0 <= p < sent and 0 <= r < regions and 0 <= d <= 256 for p, r, d in matched)
        ):
            raise AnchoredFormatError("anchored candidate: matches outside the query or picture")
        return candidate


def place_candidates(
    query: QueryAnchoring, sent: AnchoredQuery, candidates: Iterable[AnchoredCandidate]
) -> list[tuple[AnchoredCandidate, int, AnchoredEvidence]]:
    """Each candidate placed in the query, in the order given, with its distance (the
    banked PDQ's from the query's pixels in its frame when the query holds the whole
    frame, else the closest region's), when accepted; a picture accepted through one
    frame is not tried through the other."""
    out = []
    done: set[int] = set()
    for candidate in candidates:
        if candidate.key in done:
            continue
        evidence = _place(query, sent, candidate)
        if evidence is not None and evidence.accepted:
            done.add(candidate.key)
            closest = min(d for _, _, d in candidate.matched)
            distance = evidence.whole if evidence.whole is not None else closest
            out.append((candidate, distance, evidence))
    return out


def _place(
    query: QueryAnchoring, sent: AnchoredQuery, candidate: AnchoredCandidate
) -> AnchoredEvidence | None:
    banked = candidate.banked
    if banked.size is None:
        return None
    positions = sent.positions[[p for p, _, _ in candidate.matched]]
    anchors: npt.NDArray[Any] = banked.anchors  # float32, as the placement has always had them
    return check_placement(
        query.frames[candidate.frame],
        anchors[[region for _, region, _ in candidate.matched]],
        query.pairs[positions],
        np.unique(anchors.reshape(-1, 2), axis=0),  # its distinct anchors
        banked.whole,
        banked.grid.codes,
        banked.grid.usable(),
        banked.size,
        candidate.threshold,
    )


def anchored_match(item: Match, distance: int, variant: str, placed: AnchoredEvidence) -> Match:
    """``item`` matched through its anchored regions, with the placement's evidence."""
    extra: dict[str, Any] = {
        "variant": variant,
        "region": "anchored",
        "regions_matched": placed.agreeing,
        "regions_compared": placed.compared,
        "inliers": placed.inliers,
        "placement": {"scale": round(placed.scale, 3), "degrees": round(placed.degrees, 1)},
    }
    return replace(item, distance=distance, extra=extra)


def placed_matches(
    query: QueryAnchoring, sent: AnchoredQuery, candidates: Iterable[AnchoredCandidate]
) -> list[Match]:
    """The matches of the candidates :func:`place_candidates` accepts."""
    return [
        anchored_match(candidate.item, distance, query.frames[candidate.frame].variant, placed)
        for candidate, distance, placed in place_candidates(query, sent, candidates)
    ]
