"""A query's match: which banked item, how close, and the evidence; and one signal's
matches from several places (shards) merged into one answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Match:
    """One banked item a query matched, and the evidence."""

    bank: str
    item: str
    item_id: str
    signal: str
    distance: int
    negative: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Match:
        """What :meth:`to_json` wrote (with the label), back (a shard's answer)."""
        extra = {k: v for k, v in data.items() if k not in _MATCH_FIELDS}
        return cls(
            bank=str(data["bank"]),
            item=str(data["item"]),
            item_id=str(data["item_id"]),
            signal=str(data["signal"]),
            distance=int(data["distance"]),
            negative=bool(data.get("negative", False)),
            extra=extra,
        )

    def to_json(self, *, with_label: bool = True) -> dict[str, Any]:
        """The JSON form; platforms get it ``with_label=False`` (labels are private)."""
        out: dict[str, Any] = {
            "bank": self.bank,
            "item_id": self.item_id,
            "signal": self.signal,
            "distance": self.distance,
        }
        if with_label:
            out["item"] = self.item
        if self.negative:
            out["negative"] = True
        out.update(self.extra)
        return out


_MATCH_FIELDS = frozenset({"bank", "item", "item_id", "signal", "distance", "negative"})


def merge(parts: Iterable[Sequence[Match]]) -> list[Match]:
    """One signal's matches from one or several shards, as one answer: normal matches no
    closer than the closest negative match dropped, closest first."""
    matches = [m for part in parts for m in part]
    negatives = [m.distance for m in matches if m.negative]
    if negatives:
        closest = min(negatives)
        matches = [m for m in matches if m.negative or m.distance < closest]
    return sorted(matches, key=lambda m: (m.distance, m.bank, m.item_id))
