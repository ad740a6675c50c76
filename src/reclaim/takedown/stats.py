"""How fast each platform actually removes this material: the record no one publishes.

Counted per site and channel over the notices that went out (``sent_at`` set), and per
site over all channels (channel ``all``):

- ``sent``, ``acknowledged`` (an answer came), ``removed`` (every URL gone),
  ``partially_removed``, ``refused``, ``no_answer`` (its state now; an escalated notice
  counts under ``escalated``);
- ``removal_rate`` = removed / sent;
- ``median_hours`` and ``p90_hours`` from sending to removal, over the removed notices,
  by linear interpolation between closest ranks (Hyndman and Fan's type 7, numpy's default);
- ``reupload_rate`` = removed notices whose content came back (a later notice reopens
  them) / removed.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.takedown.models import Notice, NoticeState

S = NoticeState
ALL = "all"


@dataclass(frozen=True, slots=True)
class PlatformStats:
    domain: str
    channel: str
    sent: int
    acknowledged: int
    removed: int
    partially_removed: int
    refused: int
    no_answer: int
    escalated: int
    removal_rate: float | None
    median_hours: float | None
    p90_hours: float | None
    reupload_rate: float | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def platform_stats(
    session: Session,
    *,
    org: Organisation,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PlatformStats]:
    """The statistics of ``org``'s notices sent in [since, until), site by site."""
    query = select(Notice).where(Notice.org_id == org.id, Notice.sent_at.is_not(None))
    if since is not None:
        query = query.where(Notice.sent_at >= since)
    if until is not None:
        query = query.where(Notice.sent_at < until)
    notices = list(session.scalars(query))
    reopened = {
        previous
        for previous in session.scalars(
            select(Notice.previous_id).where(
                Notice.org_id == org.id, Notice.reopens.is_(True), Notice.previous_id.is_not(None)
            )
        )
        if previous is not None
    }
    groups: dict[tuple[str, str], list[Notice]] = defaultdict(list)
    for notice in notices:
        groups[(notice.domain, notice.channel)].append(notice)
        groups[(notice.domain, ALL)].append(notice)
    return [
        summarise(domain, channel, group, reopened)
        for (domain, channel), group in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != ALL, kv[0][1])
        )
    ]


def summarise(
    domain: str, channel: str, notices: Sequence[Notice], reopened: set[int]
) -> PlatformStats:
    """One row of the statistics from its notices."""
    removed = [n for n in notices if n.state is S.REMOVED]
    hours = sorted(
        (n.resolved_at - n.sent_at).total_seconds() / 3600
        for n in removed
        if n.resolved_at is not None and n.sent_at is not None
    )
    sent = len(notices)
    return PlatformStats(
        domain=domain,
        channel=channel,
        sent=sent,
        acknowledged=sum(1 for n in notices if n.acknowledged_at is not None),
        removed=len(removed),
        partially_removed=_count(notices, S.PARTIALLY_REMOVED),
        refused=_count(notices, S.REFUSED),
        no_answer=_count(notices, S.NO_ANSWER),
        escalated=_count(notices, S.ESCALATED),
        removal_rate=_ratio(len(removed), sent),
        median_hours=quantile(hours, 0.5),
        p90_hours=quantile(hours, 0.9),
        reupload_rate=_ratio(sum(1 for n in removed if n.id in reopened), len(removed)),
    )


def _count(notices: Iterable[Notice], state: NoticeState) -> int:
    return sum(1 for n in notices if n.state is state)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``values`` (sorted ascending) by linear interpolation between
    closest ranks (type 7), rounded to hundredths; None when there are no values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return round(values[low] + (values[high] - values[low]) * (position - low), 2)


def to_csv(rows: Sequence[PlatformStats]) -> str:
    """The statistics as CSV (a header row, then one row per site and channel)."""
    out = io.StringIO()
    fields = list(PlatformStats.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.to_json().items()})
    return out.getvalue()
