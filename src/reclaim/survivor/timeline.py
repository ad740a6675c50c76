"""Her case, told plainly: what happened, in the order it happened, with nothing in it
that could hurt to read by accident.

The case timeline holds every event; a survivor reads a summary of it: her registration,
that the search runs, how many copies were found on how many sites (a day's finds in one
line), requests sent, copies removed, re-uploads caught, a legal hold and its reason, her
withdrawal. Never an image, never a URL; site names only when she asks for them
(``show_sites``). Events only staff need (a sighting's review, evidence sealing, approvals,
drafts) are left out -- except as what they lead to.

Each line is a :class:`Line`: a message key and its numbers, for the portal to word in
her language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from reclaim.cases.events import (
    CaseDataDestroyed,
    CaseEvent,
    CaseOpened,
    ContentReturned,
    HashesRegistered,
    HashesWithdrawn,
    LegalHoldPlaced,
    LegalHoldReleased,
    SightingFound,
    SightingReviewed,
    TakedownChanged,
)

KEYS = (
    "opened",
    "registered",
    "found",
    "confirmed",
    "request_sent",
    "acknowledged",
    "removed",
    "partially_removed",
    "refused",
    "escalated",
    "reupload",
    "hold",
    "hold_released",
    "withdrawn",
    "files_destroyed",
)
"""Every message key a line can carry (the portal words each in Korean and English)."""


@dataclass(frozen=True, slots=True)
class Line:
    when: datetime
    key: str
    count: int = 0
    sites: int = 0
    names: tuple[str, ...] = ()
    """Site names, only when she asked to see them."""
    text: str = ""
    """Free text that is hers to read (a legal hold's reason)."""


MERGED = frozenset(
    {"found", "confirmed", "request_sent", "acknowledged", "removed", "partially_removed",
     "refused", "escalated", "reupload", "withdrawn"}
)  # fmt: skip
"""Keys whose lines of one day are told as one (\"3 copies found on 2 sites\")."""


def summarise(events: Sequence[CaseEvent], *, show_sites: bool = False) -> list[Line]:
    """The lines she reads, oldest first; a day's lines of one kind merged into one."""
    merged: dict[tuple[date, str], tuple[Line, set[str]]] = {}
    lines: list[Line] = []
    for event in events:
        line, site = _line(event)
        if line is None:
            continue
        if line.key not in MERGED:
            lines.append(line)
            continue
        slot = (line.when.date(), line.key)
        earlier, sites = merged.get(slot, (None, set()))
        if site:
            sites.add(site)
        count = line.count + (earlier.count if earlier is not None else 0)
        first = earlier.when if earlier is not None else line.when
        merged[slot] = (Line(first, line.key, count=count), sites)
    for line, sites in merged.values():
        names = tuple(sorted(sites)) if show_sites else ()
        lines.append(Line(line.when, line.key, count=line.count, sites=len(sites), names=names))
    return sorted(lines, key=lambda line: line.when)


def _line(event: CaseEvent) -> tuple[Line | None, str]:
    """The line an event gives (None for staff-only steps), and the site it concerns."""
    when = event.created
    if isinstance(event, SightingFound):
        return Line(when, "found", count=1), event.site
    if isinstance(event, TakedownChanged):
        key = _SHOWN.get(event.state)
        return (Line(when, key, count=1) if key else None), event.site
    if isinstance(event, ContentReturned):
        return Line(when, "reupload", count=1), event.site
    if isinstance(event, SightingReviewed):
        return (Line(when, "confirmed", count=1) if event.status == "confirmed" else None), ""
    if isinstance(event, HashesWithdrawn):
        return Line(when, "withdrawn", count=event.items), ""
    return _plain(event), ""


def _plain(event: CaseEvent) -> Line | None:
    when = event.created
    if isinstance(event, CaseOpened):
        return Line(when, "opened")
    if isinstance(event, HashesRegistered):
        return Line(when, "registered", count=event.items)
    if isinstance(event, LegalHoldPlaced):
        return Line(when, "hold", text=event.reason)
    if isinstance(event, LegalHoldReleased):
        return Line(when, "hold_released")
    if isinstance(event, CaseDataDestroyed):
        return Line(when, "files_destroyed", count=event.files)
    return None  # staff-only steps: evidence sealed or exported, drafts, approvals


_SHOWN = {
    "sent": "request_sent",
    "acknowledged": "acknowledged",
    "removed": "removed",
    "partially_removed": "partially_removed",
    "refused": "refused",
    "escalated": "escalated",
}
