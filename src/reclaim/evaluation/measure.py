"""Recall per edit family and false matches, through the real matcher.

Every distinct picture is banked (one item each). Each source picture's transformed
copies are looked up and must find their source; each distinct picture is looked up too
and must find nothing but itself. Any other item found is a false match.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from reclaim.banks.match import Match
from reclaim.banks.matcher import BankMatcher
from reclaim.banks.models import Bank, BankKind
from reclaim.banks.service import SignalRow
from reclaim.evaluation.corpus import Picture, Rgb
from reclaim.evaluation.transforms import FAMILIES, Copy, copies
from reclaim.signals.pdq import PdqSignal, pdq_from_rgb

Query = Callable[[Rgb], PdqSignal]


def plain_query(rgb: Rgb) -> PdqSignal:
    """Plain PDQ: the picture's own hash, nothing else."""
    return pdq_from_rgb(rgb)


def bank_matcher(pictures: Sequence[Picture]) -> BankMatcher:
    """A matcher holding one item per picture, labelled with the picture's name."""
    return matcher_over(picture_rows(pictures))


def matcher_over(rows: Iterable[SignalRow]) -> BankMatcher:
    """A matcher over stored signals of one bank (id 1) at the default threshold."""
    matcher = BankMatcher([Bank(id=1, name="evaluation", kind=BankKind.NORMAL, threshold=None)])
    matcher.add(rows)
    return matcher


def picture_rows(pictures: Sequence[Picture]) -> Iterator[SignalRow]:
    """What banking each picture stores: one item, its PDQ signal and grid."""
    for number, picture in enumerate(pictures, start=1):
        signal = pdq_from_rgb(picture.rgb, grid=True)
        grid = json.dumps(signal.grid.to_json()) if signal.grid is not None else None
        yield SignalRow(
            number,
            number,
            f"item-{number}",
            picture.name,
            1,
            "pdq",
            signal.value,
            signal.quality,
            grid,
        )


@dataclass(frozen=True, slots=True)
class Miss:
    source: str
    family: str
    detail: str


@dataclass(frozen=True, slots=True)
class FalseMatch:
    query: str
    found: str
    evidence: dict[str, object]


@dataclass
class Report:
    found: Counter[str] = field(default_factory=Counter)
    tried: Counter[str] = field(default_factory=Counter)
    misses: list[Miss] = field(default_factory=list)
    false_matches: list[FalseMatch] = field(default_factory=list)

    def recall(self, family: str | None = None) -> float:
        if family is None:
            return sum(self.found.values()) / max(1, sum(self.tried.values()))
        return self.found[family] / max(1, self.tried[family])


def source_copies(sources: Sequence[Picture], per_family: int) -> Iterator[tuple[Picture, Copy]]:
    for number, source in enumerate(sources):
        for copy in copies(source.rgb, seed=number, per_family=per_family):
            yield source, copy


class _Case(NamedTuple):
    """One lookup: the picture it must find (and nothing else), and for a copy its edit."""

    expected: str
    family: str | None  # None: a distinct picture looked up as it is
    detail: str
    rgb: Rgb


def evaluate(
    matcher: BankMatcher,
    query: Query,
    pictures: Sequence[Picture],
    pairs: Sequence[tuple[Picture, Copy]],
) -> Report:
    """Look up every copy and every distinct picture with ``query``'s views."""
    return _look_up(matcher, query, _cases(pictures, pairs))


def evaluate_in_parallel(
    rows: Sequence[SignalRow],
    query: Query,
    pictures: Sequence[Picture],
    pairs: Sequence[tuple[Picture, Copy]],
    *,
    workers: int,
) -> Report:
    """:func:`evaluate` over a matcher of ``rows`` (see :func:`picture_rows`), the lookups
    spread over ``workers`` processes, each holding such a matcher."""
    cases = _cases(pictures, pairs)
    chunks = [cases[start :: 4 * workers] for start in range(4 * workers)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_hold_matcher, initargs=(list(rows),)
    ) as pool:
        parts = list(pool.map(_look_up_held, [query] * len(chunks), chunks))
    report = Report()
    for part in parts:
        report.found.update(part.found)
        report.tried.update(part.tried)
        report.misses += part.misses
        report.false_matches += part.false_matches
    return report


def _cases(pictures: Sequence[Picture], pairs: Sequence[tuple[Picture, Copy]]) -> list[_Case]:
    cases = [_Case(source.name, copy.family, copy.detail, copy.rgb) for source, copy in pairs]
    return cases + [_Case(picture.name, None, "", picture.rgb) for picture in pictures]


def _look_up(matcher: BankMatcher, query: Query, cases: Iterable[_Case]) -> Report:
    report = Report()
    for case in cases:
        found = matcher.match([query(case.rgb)])
        name = case.expected if case.family is None else f"{case.expected} ({case.detail})"
        if case.family is not None:
            report.tried[case.family] += 1
            if any(m.item == case.expected for m in found):
                report.found[case.family] += 1
            else:
                report.misses.append(Miss(case.expected, case.family, case.detail))
        report.false_matches += _others(name, case.expected, found)
    return report


_held: BankMatcher | None = None


def _hold_matcher(rows: list[SignalRow]) -> None:
    global _held
    _held = matcher_over(rows)


def _look_up_held(query: Query, cases: list[_Case]) -> Report:
    assert _held is not None
    return _look_up(_held, query, cases)


def _others(query: str, expected: str, found: Sequence[Match]) -> list[FalseMatch]:
    return [
        FalseMatch(query, m.item, {"distance": m.distance, **m.extra})
        for m in found
        if m.item != expected
    ]


FAMILY_NAMES = tuple(FAMILIES)
