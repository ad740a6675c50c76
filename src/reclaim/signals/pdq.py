"""PDQ: Meta's 256-bit perceptual image hash, as StopNCII and ThreatExchange exchange it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from reclaim.media.sniff import MediaKind
from reclaim.signals.base import (
    HashFormatError,
    Signal,
    SignalType,
    hamming,
    int_field,
    parse_hex,
)
from reclaim.signals.pdq_anchors import anchored_regions
from reclaim.signals.pdq_core import (
    bits_from_dct16,
    bits_to_hex,
    dct16_from_luma,
    dct16_from_rgb,
    dihedral_dct16_of_luma,
    luma_of,
)
from reclaim.signals.pdq_grid import Grid, grid_of_luma
from reclaim.signals.source import MediaSource

PDQ_THRESHOLD = 31
"""The industry's default match threshold: distance <= 31 of 256 bits."""
PDQ_MIN_QUALITY = 50
"""Hashes below this quality carry too little structure to match on."""
DIHEDRAL_NAMES = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)


class GridSource(Protocol):
    """Where a query's grids come from: the pixels of each of its views, turned as asked."""

    def grid(self, region: str, variant: str, size: tuple[int, int] | None) -> Grid | None:
        """The grid of view ``region`` ("whole", "content", ...) turned by ``variant`` and
        resized to ``size`` (width, height) when given."""


@dataclass(frozen=True, slots=True)
class PdqSignal(Signal):
    """A PDQ hash (64 hex digits) with its quality and, when computed here, its 8 variants.

    ``regions`` holds (name, hash) of parts of the picture a query also looks up, such as
    ``content``: the picture inside letterbox bars or padding. ``grid`` holds the nine
    cell hashes of the picture (:mod:`reclaim.signals.pdq_grid`). A query computed here
    also carries ``views``, which hashes the grid of any view and variant on demand.
    """

    value: str
    quality: int
    dihedral: tuple[str, ...] = ()
    regions: tuple[tuple[str, str], ...] = ()
    grid: Grid | None = None
    views: GridSource | None = field(default=None, compare=False, repr=False)
    turned_regions: tuple[tuple[str, str, str], ...] = ()
    """(region, variant, hash) of regions mirrored, computed here for queries only."""

    def grid_of(
        self, region: str, variant: str, size: tuple[int, int] | None = None
    ) -> Grid | None:
        """The query's grid for a view and variant (at ``size`` when the query can
        resize), when it has one."""
        if self.views is not None:
            return self.views.grid(region, variant, size)
        if region == "whole" and variant == "original":
            return self.grid
        return None

    @property
    def type(self) -> str:
        return "pdq"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "pdq", "value": self.value, "quality": self.quality}
        if self.dihedral:
            out["dihedral"] = list(self.dihedral)
        if self.regions:
            out["regions"] = [{"region": name, "value": value} for name, value in self.regions]
        if self.grid is not None:
            out["grid"] = self.grid.to_json()
        return out


def _regions(data: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(data, list | tuple) or len(data) > 16:
        raise HashFormatError("regions must be a list of at most 16 {region, value} objects")
    out = []
    for region in data:
        if not isinstance(region, Mapping) or not isinstance(region.get("region"), str):
            raise HashFormatError('each region needs a "region" name and a "value"')
        name = region["region"]
        if not 0 < len(name) <= 32:
            raise HashFormatError("a region name must be 1-32 characters")
        out.append((name, parse_hex(region.get("value"), bits=256, name="pdq")))  # type: ignore[arg-type]
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PdqMatch:
    distance: int
    threshold: int


def pdq_from_rgb(
    rgb: npt.NDArray[np.uint8], *, dihedral: bool = False, grid: bool = False
) -> PdqSignal:
    """PDQ of RGB pixels (H x W x 3, uint8), bit-identical to the reference hasher.

    With ``dihedral``, also the hashes of the picture turned and mirrored 8 ways, each
    equal to hashing the turned pixels (four hashing passes, not eight). With ``grid``,
    also the nine cell hashes and the anchored regions a banked item carries."""
    if dihedral or grid:  # several passes: convert the pixels to luma once for all
        return pdq_from_luma(luma_of(rgb), dihedral=dihedral, grid=grid)
    dct, quality = dct16_from_rgb(np.ascontiguousarray(rgb))
    return PdqSignal(bits_to_hex(bits_from_dct16(dct)), quality)


def pdq_from_luma(
    luma: npt.NDArray[np.float32], *, dihedral: bool = False, grid: bool = False
) -> PdqSignal:
    """:func:`pdq_from_rgb` from PDQ's luma of the pixels (``pdq_core.luma_of``): a
    picture and parts of it hashed from one conversion, each bit-identical to hashing
    its pixels."""
    cells = (
        dataclasses.replace(grid_of_luma(luma), anchored=anchored_regions(luma)) if grid else None
    )
    if dihedral:
        dcts, quality = dihedral_dct16_of_luma(luma)
        variants = tuple(bits_to_hex(bits_from_dct16(v)) for v in dcts)
        return PdqSignal(variants[0], quality, variants, grid=cells)
    dct, quality = dct16_from_luma(luma)
    return PdqSignal(bits_to_hex(bits_from_dct16(dct)), quality, grid=cells)


class PdqSignalType(SignalType):
    name = "pdq"
    content_kinds = frozenset({MediaKind.IMAGE})
    default_for = frozenset({MediaKind.IMAGE})

    @classmethod
    def compute(cls, source: MediaSource) -> PdqSignal:
        rgb = source.image().rgb
        if source.options.query_regions:
            from reclaim.matching.views import query_signal  # matching builds on signals

            return query_signal(rgb)
        return pdq_from_rgb(rgb, dihedral=True, grid=True)

    @classmethod
    def parse(cls, value: str, quality: int = 100) -> PdqSignal:
        """A PDQ hash received from outside, validated. Exchanges often omit the quality;
        it then counts as full."""
        if not 0 <= quality <= 100:
            raise HashFormatError(f"PDQ quality must be 0-100, not {quality}")
        return PdqSignal(parse_hex(value, bits=256, name="pdq"), quality)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PdqSignal:
        quality = int_field(data, "quality", low=0, high=100, default=100)
        signal = cls.parse(data.get("value"), quality)  # type: ignore[arg-type]
        variants = data.get("dihedral", ())
        if not isinstance(variants, list | tuple) or len(variants) not in (0, 8):
            raise HashFormatError("dihedral must be a list of the 8 variant hashes")
        dihedral = tuple(parse_hex(v, bits=256, name="pdq") for v in variants)
        if dihedral and dihedral[0] != signal.value:
            raise HashFormatError("the first dihedral variant must be the hash itself")
        grid = Grid.from_json(data["grid"]) if "grid" in data else None
        return PdqSignal(signal.value, quality, dihedral, _regions(data.get("regions", ())), grid)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Hamming distance between two PDQ hashes in hex."""
        return hamming(a, b)

    @classmethod
    def compare(cls, a: str, b: str, threshold: int = PDQ_THRESHOLD) -> PdqMatch | None:
        """The reference match: Hamming distance at most ``threshold``."""
        distance = hamming(a, b)
        return PdqMatch(distance, threshold) if distance <= threshold else None
