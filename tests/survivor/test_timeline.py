"""Her timeline, plainly: a day's finds in one line, no staff-only steps, no site names
unless she asks, never a URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reclaim.cases.events import (
    CaseOpened,
    ContentReturned,
    EvidenceSealed,
    HashesRegistered,
    HashesWithdrawn,
    LegalHoldPlaced,
    SightingFound,
    SightingReviewed,
    TakedownChanged,
)
from reclaim.survivor.timeline import KEYS, Line, summarise

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


def _notice(minutes: int, state: str, base: datetime = DAY1) -> TakedownChanged:
    when = base + timedelta(minutes=minutes)
    return TakedownChanged(
        actor="system", created=when, notice=1, channel="host_abuse", site="a.example", state=state
    )


def _withdrawn(base: datetime) -> HashesWithdrawn:
    return HashesWithdrawn(actor="survivor", created=base, bank="survivors", items=1, deleted=True)


def _events():  # type: ignore[no-untyped-def]
    at = lambda base, minutes: base + timedelta(minutes=minutes)  # noqa: E731
    return [
        CaseOpened(actor="survivor", created=at(DAY1, 0), channel="portal"),
        HashesRegistered(actor="survivor", created=at(DAY1, 1), bank="survivors", items=3),
        SightingFound(actor="monitor", created=at(DAY1, 60), sighting=1, site="a.example"),
        SightingFound(actor="monitor", created=at(DAY1, 61), sighting=2, site="a.example"),
        SightingFound(actor="monitor", created=at(DAY1, 62), sighting=3, site="b.example"),
        SightingReviewed(actor="kim", created=at(DAY1, 90), sighting=1, status="confirmed"),
        SightingReviewed(actor="kim", created=at(DAY1, 91), sighting=3, status="rejected"),
        EvidenceSealed(actor="evidence", created=at(DAY1, 92), evidence=1, site="a.example"),
        _notice(93, "drafted"),
        _notice(120, "sent"),
        SightingFound(actor="monitor", created=at(DAY2, 5), sighting=4, site="c.example"),
        _notice(0, "removed", DAY3),
        LegalHoldPlaced(actor="lee", created=at(DAY3, 10), reason="the police asked us to keep it"),
        ContentReturned(actor="recheck", created=at(DAY3, 20), notice=2, site="d.example"),
        _withdrawn(at(DAY3, 30)),
        _withdrawn(at(DAY3, 30)),
    ]  # fmt: skip


def test_her_timeline_in_plain_lines() -> None:
    lines = summarise(_events())
    assert [(line.key, line.count, line.sites) for line in lines] == [
        ("opened", 0, 0),
        ("registered", 3, 0),
        ("found", 3, 2),  # three copies on two sites, that day
        ("confirmed", 1, 0),
        ("request_sent", 1, 1),
        ("found", 1, 1),
        ("removed", 1, 1),
        ("hold", 0, 0),
        ("reupload", 1, 1),
        ("withdrawn", 2, 0),
    ]
    assert all(line.names == () for line in lines)  # no site names unless she asks
    assert next(line for line in lines if line.key == "hold").text.startswith("the police")
    assert {line.key for line in lines} <= set(KEYS)


def test_site_names_only_when_she_asks() -> None:
    lines = summarise(_events(), show_sites=True)
    found = [line for line in lines if line.key == "found"]
    assert [line.names for line in found] == [("a.example", "b.example"), ("c.example",)]
    assert all("/" not in name for line in lines for name in line.names)  # never a URL
    assert isinstance(lines[0], Line)
