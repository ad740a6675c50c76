"""Typed, registered case timeline events.

Each event is a frozen dataclass with a stable ``name``; its fields (beyond ``actor`` and
``created``) are stored as JSON. Writing an event type that is not registered fails, so
the timeline only ever holds events every reader knows how to show.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from reclaim.store.base import utcnow


class UnregisteredEvent(TypeError):
    """An event type that is not in :data:`EVENT_TYPES`."""


@dataclass(frozen=True, kw_only=True)
class CaseEvent:
    name: ClassVar[str]
    actor: str
    created: datetime = field(default_factory=utcnow)

    def data(self) -> dict[str, Any]:
        """The event's own fields, for storage."""
        skip = {"actor", "created"}
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip
        }


@dataclass(frozen=True, kw_only=True)
class CaseOpened(CaseEvent):
    name = "case.opened"
    channel: str = "staff"


@dataclass(frozen=True, kw_only=True)
class HashesRegistered(CaseEvent):
    name = "hashes.registered"
    bank: str
    items: int


@dataclass(frozen=True, kw_only=True)
class HashesWithdrawn(CaseEvent):
    name = "hashes.withdrawn"
    bank: str
    items: int
    deleted: bool


@dataclass(frozen=True, kw_only=True)
class SightingFound(CaseEvent):
    """The monitor found a banked item on the web. Only the site's name is kept here: the
    timeline is what a survivor reads, and it never shows media or full addresses."""

    name = "sighting.found"
    sighting: int
    site: str


@dataclass(frozen=True, kw_only=True)
class SightingReviewed(CaseEvent):
    """A person looked at a sighting: under review, confirmed (it is her picture or video)
    or rejected (a false match)."""

    name = "sighting.reviewed"
    sighting: int
    status: str


@dataclass(frozen=True, kw_only=True)
class EvidenceSealed(CaseEvent):
    """A page was captured and sealed as evidence (before it could vanish)."""

    name = "evidence.sealed"
    evidence: int
    site: str


@dataclass(frozen=True, kw_only=True)
class EvidenceExported(CaseEvent):
    """The case's evidence was exported for the police or a lawyer, and on what basis."""

    name = "evidence.exported"
    packages: int
    basis: str


@dataclass(frozen=True, kw_only=True)
class LegalHoldPlaced(CaseEvent):
    """Her data is kept even if she withdraws (she is told why)."""

    name = "hold.placed"
    reason: str


@dataclass(frozen=True, kw_only=True)
class LegalHoldReleased(CaseEvent):
    name = "hold.released"


@dataclass(frozen=True, kw_only=True)
class CaseDataDestroyed(CaseEvent):
    """At her request, the case's stored files were made unreadable for good."""

    name = "data.destroyed"
    files: int


@dataclass(frozen=True, kw_only=True)
class TakedownChanged(CaseEvent):
    """A removal request moved on: drafted, approved, sent, acknowledged, removed,
    partially removed, refused, no answer, escalated, rejected or cancelled. The site's
    name only, as for sightings."""

    name = "takedown.changed"
    notice: int
    channel: str
    site: str
    state: str


@dataclass(frozen=True, kw_only=True)
class ContentReturned(CaseEvent):
    """Content that had been removed was seen again (a re-upload); a new request follows."""

    name = "takedown.reupload"
    notice: int
    site: str


EVENT_TYPES: dict[str, type[CaseEvent]] = {
    cls.name: cls
    for cls in (
        CaseOpened,
        HashesRegistered,
        HashesWithdrawn,
        SightingFound,
        SightingReviewed,
        EvidenceSealed,
        EvidenceExported,
        LegalHoldPlaced,
        LegalHoldReleased,
        CaseDataDestroyed,
        TakedownChanged,
        ContentReturned,
    )
}


def check_registered(event: CaseEvent) -> None:
    """Refuse events whose type is not registered."""
    if EVENT_TYPES.get(event.name) is not type(event):
        raise UnregisteredEvent(
            f"event type {type(event).__name__} ({event.name!r}) is not registered"
        )


def event_from_row(name: str, actor: str, created: datetime, data: dict[str, Any]) -> CaseEvent:
    """Rebuild a stored event as its typed dataclass."""
    try:
        cls = EVENT_TYPES[name]
    except KeyError:
        raise UnregisteredEvent(f"stored event {name!r} has no registered type") from None
    return cls(actor=actor, created=created, **data)
