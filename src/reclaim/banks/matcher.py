"""Look query signals up in banks: per-bank thresholds, quality floor, negative banks.

A match against a negative bank (known-benign content: stock photos, memes, logos)
suppresses matches to normal banks at the same distance or further for that signal.
PDQ hashes below quality 50 neither match nor are matched: near-featureless pictures
all hash alike, and matching them only wastes a support worker's day.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from reclaim.banks.models import Bank, BankItem, BankKind
from reclaim.banks.service import active_items, item_signals, last_change, list_banks
from reclaim.cases.models import Organisation
from reclaim.signals.base import ExactSignal, Signal
from reclaim.signals.pdq import PDQ_MIN_QUALITY, PDQ_THRESHOLD, PdqSignal
from reclaim.signals.vpdq import VpdqReferenceRule, VpdqSignal

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


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

    def to_json(self, *, with_label: bool = True) -> dict[str, Any]:
        """The JSON form; platforms get it ``with_label=False`` (labels are private)."""
        out = {
            "bank": self.bank,
            "item": self.item,
            "item_id": self.item_id,
            "signal": self.signal,
            "distance": self.distance,
        }
        if not with_label:
            del out["item"]
        if self.negative:
            out["negative"] = True
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class _Entry:
    bank: Bank
    item: BankItem


class BankMatcher:
    """An in-memory lookup structure over the active items of some banks."""

    def __init__(self, banks: Sequence[Bank], items: Sequence[BankItem]) -> None:
        by_id = {bank.id: bank for bank in banks}
        self._pdq_entries: list[_Entry] = []
        pdq_codes: list[bytes] = []
        self._vpdq: list[tuple[_Entry, VpdqSignal]] = []
        self._exact: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
        for item in items:
            entry = _Entry(by_id[item.bank_id], item)
            for signal in item_signals(item):
                if isinstance(signal, PdqSignal):
                    if signal.quality >= PDQ_MIN_QUALITY:
                        self._pdq_entries.append(entry)
                        pdq_codes.append(bytes.fromhex(signal.value))
                elif isinstance(signal, VpdqSignal):
                    self._vpdq.append((entry, signal))
                elif isinstance(signal, ExactSignal):
                    self._exact[(signal.type, signal.value)].append(entry)
        self._pdq_codes: npt.NDArray[np.uint8] = (
            np.frombuffer(b"".join(pdq_codes), dtype=np.uint8).reshape(-1, 32)
            if pdq_codes
            else np.zeros((0, 32), np.uint8)
        )
        self._pdq_thresholds = np.array(
            [_threshold(e.bank) for e in self._pdq_entries], dtype=np.int32
        )

    def match(self, signals: Sequence[Signal]) -> list[Match]:
        """Every match of ``signals``, negative-bank suppression applied, closest first."""
        found: list[Match] = []
        for signal in signals:
            found.extend(_suppress(self._match_one(signal)))
        return sorted(found, key=lambda m: (m.distance, m.bank, m.item_id))

    def _match_one(self, signal: Signal) -> list[Match]:
        if isinstance(signal, PdqSignal):
            return self._match_pdq(signal)
        if isinstance(signal, VpdqSignal):
            return self._match_vpdq(signal)
        if isinstance(signal, ExactSignal):
            return [
                _make(e, signal.type, 0) for e in self._exact.get((signal.type, signal.value), [])
            ]
        return []

    def _match_pdq(self, signal: PdqSignal) -> list[Match]:
        if signal.quality < PDQ_MIN_QUALITY or not len(self._pdq_codes):
            return []
        query = np.frombuffer(bytes.fromhex(signal.value), dtype=np.uint8)
        distances = _POPCOUNT[self._pdq_codes ^ query].sum(axis=1, dtype=np.int32)
        hits = np.flatnonzero(distances <= self._pdq_thresholds)
        return [_make(self._pdq_entries[i], "pdq", int(distances[i])) for i in hits]

    def _match_vpdq(self, signal: VpdqSignal) -> list[Match]:
        out = []
        for entry, target in self._vpdq:
            rule = VpdqReferenceRule(distance=_threshold(entry.bank))
            result = rule.compare(signal, target)
            if result is not None:
                # Distance of a video match: the share of query frames not found, in percent.
                distance = round(100 - result.query_match_percent)
                out.append(
                    _make(
                        entry,
                        "vpdq",
                        distance,
                        {
                            "query_coverage": round(result.query_match_percent, 1),
                            "target_coverage": round(result.target_match_percent, 1),
                        },
                    )
                )
        return out


def _threshold(bank: Bank) -> int:
    return bank.threshold if bank.threshold is not None else PDQ_THRESHOLD


def _make(entry: _Entry, signal: str, distance: int, extra: dict[str, Any] | None = None) -> Match:
    return Match(
        bank=entry.bank.name,
        item=entry.item.label,
        item_id=entry.item.public_id,
        signal=signal,
        distance=distance,
        negative=entry.bank.kind is BankKind.NEGATIVE,
        extra=extra or {},
    )


def _suppress(matches: list[Match]) -> list[Match]:
    """Drop normal matches no closer than the closest negative match of the same signal."""
    negatives = [m.distance for m in matches if m.negative]
    if not negatives:
        return matches
    closest = min(negatives)
    return [m for m in matches if m.negative or m.distance < closest]


class MatcherCache:
    """Keeps a :class:`BankMatcher` per (organisation, shared-only) and rebuilds it when
    the change log moves on, so that an add or withdrawal is visible to the next lookup."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[tuple[int, bool], tuple[int, BankMatcher]] = {}

    def get(self, session: Session, *, org: Organisation, shared_only: bool) -> BankMatcher:
        seq = last_change(session)
        key = (org.id, shared_only)
        with self._lock:
            cached = self._built.get(key)
            if cached is not None and cached[0] == seq:
                return cached[1]
        banks_ = [bank for bank, _ in list_banks(session, org=org)]
        matcher = BankMatcher(banks_, active_items(session, banks=banks_, shared_only=shared_only))
        with self._lock:
            self._built[key] = (seq, matcher)
        return matcher
