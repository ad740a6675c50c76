"""Platform statistics against numbers worked out by hand.

Notices are inserted as rows with chosen times (the workflow that produces them is tested
elsewhere), so every figure below can be checked on paper. Times are hours after T0
(2026-03-02 00:00 UTC); "+h" is hours after the notice was sent.

Organisation "default":

    key  site   channel           sent   state              answer  resolved  notes
    A1   alpha  host_abuse        0      removed            +1      +2        reopened by A10
    A2   alpha  host_abuse        24     removed            -       +4
    A3   alpha  host_abuse        48     removed            +3      +10
    A4   alpha  host_abuse        72     refused            +5      +6
    A5   alpha  host_abuse        96     escalated          -       +72       (no answer first)
    A6   alpha  host_abuse        120    sent               -       -         still waiting
    A7   alpha  host_abuse        -      drafted            -       -         not sent: not counted
    A10  alpha  host_abuse        192    acknowledged       +1      -         reopens A1
    A8   alpha  hosting_provider  144    removed            +20     +30       escalates A5
    A9   alpha  hosting_provider  168    partially_removed  -       +8
    B1   beta   host_abuse        0      removed            +1      +5        reopened by B3
    B2   beta   host_abuse        24     no_answer          -       +72
    B3   beta   host_abuse        -      drafted            -       -         reopens B1, not sent

Organisation "other": O1 alpha host_abuse sent at 0, removed +1, reopened by O2; O3
"reopens" A2 -- which the workflow never does across organisations, but the count of
re-uploads must not trust it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from reclaim.cases import service as cases
from reclaim.cases.models import Organisation
from reclaim.store.db import Database
from reclaim.takedown.models import Notice, NoticeState
from reclaim.takedown.stats import PlatformStats, platform_stats, to_csv

S = NoticeState
T0 = datetime(2026, 3, 2, tzinfo=UTC)
ALPHA, BETA = "alpha.example", "beta.example"
HOST, PROVIDER = "host_abuse", "hosting_provider"


@dataclass(frozen=True)
class Row:
    """One notice of the table above."""

    key: str
    domain: str
    channel: str
    state: NoticeState
    sent: float | None = None
    answer: float | None = None
    resolved: float | None = None
    previous: str | None = None
    reopens: bool = False


OURS = [
    Row("A1", ALPHA, HOST, S.REMOVED, sent=0, answer=1, resolved=2),
    Row("A2", ALPHA, HOST, S.REMOVED, sent=24, resolved=4),
    Row("A3", ALPHA, HOST, S.REMOVED, sent=48, answer=3, resolved=10),
    Row("A4", ALPHA, HOST, S.REFUSED, sent=72, answer=5, resolved=6),
    Row("A5", ALPHA, HOST, S.ESCALATED, sent=96, resolved=72),
    Row("A6", ALPHA, HOST, S.SENT, sent=120),
    Row("A7", ALPHA, HOST, S.DRAFTED),
    Row("A8", ALPHA, PROVIDER, S.REMOVED, sent=144, answer=20, resolved=30, previous="A5"),
    Row("A9", ALPHA, PROVIDER, S.PARTIALLY_REMOVED, sent=168, resolved=8),
    Row("A10", ALPHA, HOST, S.ACKNOWLEDGED, sent=192, answer=1, previous="A1", reopens=True),
    Row("B1", BETA, HOST, S.REMOVED, sent=0, answer=1, resolved=5),
    Row("B2", BETA, HOST, S.NO_ANSWER, sent=24, resolved=72),
    Row("B3", BETA, HOST, S.DRAFTED, previous="B1", reopens=True),
]
THEIRS = [
    Row("O1", ALPHA, HOST, S.REMOVED, sent=0, resolved=1),
    Row("O2", ALPHA, HOST, S.DRAFTED, previous="O1", reopens=True),
    Row("O3", ALPHA, HOST, S.DRAFTED, previous="A2", reopens=True),
]


def _stats(
    domain: str,
    channel: str,
    *counts: int,
    rate: float | None,
    median: float | None,
    p90: float | None,
    reupload: float | None,
) -> PlatformStats:
    """``counts``: sent, acknowledged, removed, partially removed, refused, no answer,
    escalated."""
    sent, acknowledged, removed, partially, refused, no_answer, escalated = counts
    return PlatformStats(
        domain, channel, sent, acknowledged, removed, partially, refused, no_answer, escalated,
        rate, median, p90, reupload,
    )  # fmt: skip


# Quantiles are Hyndman and Fan's type 7: over n sorted values v, position p = (n-1)q,
# value = v[floor p] + (v[floor p + 1] - v[floor p]) * (p - floor p).
EVERYTHING = [
    # alpha, all channels: sent A1-A6, A8-A10 = 9 (A7 was never sent); answered A1, A3, A4,
    # A8, A10 = 5; removed A1, A2, A3, A8 = 4; partial A9; refused A4; escalated A5.
    # Rate 4/9 = 0.4444. Hours to removal sorted [2, 4, 10, 30]:
    #   median p = 3 * 0.5 = 1.5 -> 4 + (10 - 4) * 0.5 = 7.0
    #   p90    p = 3 * 0.9 = 2.7 -> 10 + (30 - 10) * 0.7 = 24.0
    # Re-uploads: A1 (reopened by A10) of 4 removed = 0.25.
    _stats(ALPHA, "all", 9, 5, 4, 1, 1, 0, 1, rate=0.4444, median=7.0, p90=24.0, reupload=0.25),
    # alpha, host_abuse: sent A1-A6, A10 = 7; answered A1, A3, A4, A10 = 4; removed A1, A2,
    # A3 = 3; refused A4; escalated A5 (it counts there, not under no answer).
    # Rate 3/7 = 0.428571... -> 0.4286. Hours [2, 4, 10]:
    #   median p = 2 * 0.5 = 1 -> 4.0
    #   p90    p = 2 * 0.9 = 1.8 -> 4 + (10 - 4) * 0.8 = 8.8
    # Re-uploads: A1 of 3 = 0.3333.
    _stats(ALPHA, HOST, 7, 4, 3, 0, 1, 0, 1, rate=0.4286, median=4.0, p90=8.8, reupload=0.3333),
    # alpha, hosting_provider: A8 removed after 30 h (answered), A9 partially removed.
    # Rate 1/2; one value, so median = p90 = 30.0; A8 was not reopened: 0/1.
    _stats(ALPHA, PROVIDER, 2, 1, 1, 1, 0, 0, 0, rate=0.5, median=30.0, p90=30.0, reupload=0.0),
    # beta: B1 removed after 5 h (answered) and reopened by B3 (a draft, not counted as sent,
    # but it reopens B1 all the same); B2 no answer. Rate 1/2, re-uploads 1/1.
    _stats(BETA, "all", 2, 1, 1, 0, 0, 1, 0, rate=0.5, median=5.0, p90=5.0, reupload=1.0),
    _stats(BETA, HOST, 2, 1, 1, 0, 0, 1, 0, rate=0.5, median=5.0, p90=5.0, reupload=1.0),
]

# Sent in [T0 + 24 h, T0 + 144 h): A2-A6 and B2. A1 and B1 (sent at T0) come before, A8
# (sent at exactly 144 h) is left out as the end is exclusive, A9 and A10 come after.
WINDOW = [
    # alpha: sent A2-A6 = 5; answered A3, A4 = 2; removed A2 (4 h), A3 (10 h); refused A4;
    # escalated A5. Rate 2/5 = 0.4. Hours [4, 10]:
    #   median p = 1 * 0.5 = 0.5 -> 4 + 6 * 0.5 = 7.0
    #   p90    p = 1 * 0.9 = 0.9 -> 4 + 6 * 0.9 = 9.4
    # Neither A2 nor A3 was reopened in this organisation (O3 is another's): 0/2.
    _stats(ALPHA, "all", 5, 2, 2, 0, 1, 0, 1, rate=0.4, median=7.0, p90=9.4, reupload=0.0),
    _stats(ALPHA, HOST, 5, 2, 2, 0, 1, 0, 1, rate=0.4, median=7.0, p90=9.4, reupload=0.0),
    # beta: B2 alone, unanswered; nothing removed, so no hours and no re-upload rate.
    _stats(BETA, "all", 1, 0, 0, 0, 0, 1, 0, rate=0.0, median=None, p90=None, reupload=None),
    _stats(BETA, HOST, 1, 0, 0, 0, 0, 1, 0, rate=0.0, median=None, p90=None, reupload=None),
]


def _insert(session: Session, org: Organisation, rows: list[Row], ids: dict[str, int]) -> None:
    for row in rows:
        sent = T0 + timedelta(hours=row.sent) if row.sent is not None else None

        def after(hours: float | None, sent: datetime | None = sent) -> datetime | None:
            return sent + timedelta(hours=hours) if sent is not None and hours is not None else None

        notice = Notice(
            org_id=org.id,
            channel=row.channel,
            domain=row.domain,
            language="en",
            subject=f"notice {row.key}",
            body_text="text",
            body_html="<p>text</p>",
            drafted_by="test",
            state=row.state,
            created=T0 - timedelta(days=1),
            changed=after(row.resolved) or after(row.answer) or sent or T0,
            sent_at=sent,
            acknowledged_at=after(row.answer),
            resolved_at=after(row.resolved),
            previous_id=ids[row.previous] if row.previous is not None else None,
            reopens=row.reopens,
        )
        session.add(notice)
        session.flush()
        ids[row.key] = notice.id


@pytest.fixture
def notices(database: Database) -> dict[str, int]:
    ids: dict[str, int] = {}
    with database.session() as session:
        _insert(session, cases.get_org(session), OURS, ids)
        _insert(session, cases.create_org(session, slug="other", name="Other"), THEIRS, ids)
    return ids


def _platform_stats(
    database: Database,
    *,
    slug: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PlatformStats]:
    with database.session() as session:
        org = cases.get_org(session, slug=slug)
        return platform_stats(session, org=org, since=since, until=until)


def test_the_statistics_are_the_ones_worked_out_by_hand(
    database: Database, notices: dict[str, int]
) -> None:
    assert _platform_stats(database) == EVERYTHING


def test_since_includes_its_moment_and_until_excludes_its_own(
    database: Database, notices: dict[str, int]
) -> None:
    since, until = T0 + timedelta(hours=24), T0 + timedelta(hours=144)
    assert _platform_stats(database, since=since, until=until) == WINDOW
    assert _platform_stats(database, since=T0 + timedelta(days=30)) == []
    later = _platform_stats(database, since=T0 + timedelta(hours=144))
    assert [(r.domain, r.channel, r.sent) for r in later] == [
        (ALPHA, "all", 3),  # A8, A9, A10
        (ALPHA, HOST, 1),
        (ALPHA, PROVIDER, 2),
    ]


def test_another_organisation_sees_only_its_own_notices(
    database: Database, notices: dict[str, int]
) -> None:
    # O1: removed 1 h after sending and reopened by O2 -- its own notices, none of ours.
    assert _platform_stats(database, slug="other") == [
        _stats(ALPHA, "all", 1, 0, 1, 0, 0, 0, 0, rate=1.0, median=1.0, p90=1.0, reupload=1.0),
        _stats(ALPHA, HOST, 1, 0, 1, 0, 0, 0, 0, rate=1.0, median=1.0, p90=1.0, reupload=1.0),
    ]


def test_no_notices_no_rows(database: Database) -> None:
    assert _platform_stats(database) == []
    assert to_csv([]).splitlines() == [",".join(PlatformStats.__dataclass_fields__)]


def test_csv_round_trips(database: Database, notices: dict[str, int]) -> None:
    rows = _platform_stats(
        database, since=T0 + timedelta(hours=24), until=T0 + timedelta(hours=144)
    )
    reader = csv.DictReader(io.StringIO(to_csv(rows)))
    assert reader.fieldnames == list(PlatformStats.__dataclass_fields__)
    read = list(reader)
    assert len(read) == len(rows)
    for text, row in zip(read, rows, strict=True):
        assert text == {k: "" if v is None else str(v) for k, v in row.to_json().items()}
        rates = [float(text[k]) if text[k] else None for k in _RATES]
        again = _stats(
            text["domain"],
            text["channel"],
            *(int(text[k]) for k in _COUNTS),
            rate=rates[0],
            median=rates[1],
            p90=rates[2],
            reupload=rates[3],
        )
        assert again == row


_COUNTS = (
    "sent", "acknowledged", "removed", "partially_removed", "refused", "no_answer", "escalated",
)  # fmt: skip
_RATES = ("removal_rate", "median_hours", "p90_hours", "reupload_rate")
