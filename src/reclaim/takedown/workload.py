"""The organisation's workload over a period, week by week: the figures of the staff app's
statistics page.

Weeks are ISO weeks in UTC, Monday first, each named by its Monday; the period
[since, until) covers every week it touches, weeks with nothing in them included, and a
row counts in the week of its own moment only when that moment lies in the period:

- ``cases_opened``: the organisation's cases by ``Case.created`` (whatever their status now);
- ``sightings``: its sightings by ``Sighting.first_seen`` (rejected ones too: each was
  reviewed);
- ``notices_sent``: its notices by ``Notice.sent_at``.

Time to removal is counted per sighting, from ``Sighting.first_seen`` to the moment a
re-check first found its URL gone (``NoticeTarget.removed_at``, set by
:func:`reclaim.takedown.recheck.record`; a sighting reported in several notices counts
once, at its earliest removal). A person marking a notice *removed* is a claim the
re-checks verify, so it sets no time here; content that came back has no removal time
until it is found gone again. ``removals`` counts the sightings removed in the period and
``removal_median_hours`` is their median (type 7, as the platform statistics).

``open_cases``, ``waiting_review`` and ``waiting_approval`` are the queues as they stand
now, whatever the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from reclaim.cases.models import Case, CaseStatus, Organisation
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.store.base import Base
from reclaim.takedown.models import Notice, NoticeState, NoticeTarget
from reclaim.takedown.stats import quantile

WAITING_REVIEW = (SightingStatus.NEW, SightingStatus.UNDER_REVIEW)


@dataclass(frozen=True, slots=True)
class Workload:
    weeks: list[date]
    """The Monday of each week of the period, oldest first."""
    cases_opened: list[int]
    sightings: list[int]
    notices_sent: list[int]
    """One count per week, in the order of ``weeks``."""
    removal_median_hours: float | None
    """Median hours from sighting to removal over the removals in the period (None: none)."""
    removals: int
    open_cases: int
    waiting_review: int
    """Sightings new or under review."""
    waiting_approval: int
    """Notices drafted and not yet approved."""


def workload(session: Session, *, org: Organisation, since: datetime, until: datetime) -> Workload:
    """``org``'s workload in [since, until), week by week, and its queues now."""
    start, end = _utc(since, "since"), _utc(until, "until")
    if end < start:
        raise ValueError(f"the period ends ({until}) before it starts ({since})")
    weeks = week_starts(start, end)
    hours = sorted(_removal_hours(session, org, start, end))
    return Workload(
        weeks=weeks,
        cases_opened=_weekly(session, Case.created, Case.org_id == org.id, start, end, weeks),
        sightings=_weekly(
            session, Sighting.first_seen, Sighting.org_id == org.id, start, end, weeks
        ),
        notices_sent=_weekly(session, Notice.sent_at, Notice.org_id == org.id, start, end, weeks),
        removal_median_hours=quantile(hours, 0.5),
        removals=len(hours),
        open_cases=_count(session, Case, Case.org_id == org.id, Case.status == CaseStatus.OPEN),
        waiting_review=_count(
            session, Sighting, Sighting.org_id == org.id, Sighting.status.in_(WAITING_REVIEW)
        ),
        waiting_approval=_count(
            session, Notice, Notice.org_id == org.id, Notice.state == NoticeState.DRAFTED
        ),
    )


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the ISO week ``moment`` falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def week_starts(since: datetime, until: datetime) -> list[date]:
    """The Mondays of the weeks [since, until) touches (none when it is empty)."""
    if until <= since:
        return []
    first, last = week_of(since), week_of(until - timedelta(microseconds=1))
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


def _weekly(
    session: Session,
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    mine: ColumnElement[bool],
    since: datetime,
    until: datetime,
    weeks: list[date],
) -> list[int]:
    counts = dict.fromkeys(weeks, 0)
    moments = session.scalars(select(column).where(mine, column >= since, column < until))
    for moment in moments:
        if moment is not None:
            counts[week_of(moment)] += 1
    return list(counts.values())


def _removal_hours(
    session: Session, org: Organisation, since: datetime, until: datetime
) -> list[float]:
    rows = session.execute(
        select(Sighting.id, Sighting.first_seen, NoticeTarget.removed_at)
        .join(NoticeTarget, NoticeTarget.sighting_id == Sighting.id)
        .join(Notice, Notice.id == NoticeTarget.notice_id)
        .where(
            Sighting.org_id == org.id,
            Notice.org_id == org.id,
            NoticeTarget.removed_at.is_not(None),
        )
    ).all()
    first: dict[int, tuple[datetime, datetime]] = {}
    for sighting_id, seen, removed in rows:
        if removed is None:
            continue
        if sighting_id not in first or removed < first[sighting_id][1]:
            first[sighting_id] = (seen, removed)
    return [
        (removed - seen).total_seconds() / 3600
        for seen, removed in first.values()
        if since <= removed < until
    ]


def _count(session: Session, model: type[Base], *conditions: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)
