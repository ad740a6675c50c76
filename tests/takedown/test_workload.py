"""The organisation's weekly workload against numbers worked out by hand.

Cases, sightings, notices and their URLs are made with chosen times, so every figure can be
checked on paper; one removal goes through the re-check's own ``record`` to show that the
time read is the one the re-check writes. Times are days (d) and hours (h) after T0, Monday
2026-03-02 00:00 UTC. The period is [T0 + 2d, T0 + 15d 12h): it touches the weeks of
03-02, 03-09 and 03-16.

Our cases (the world's own case is opened at T0 - 10d):

    C1  T0 + 1d         open       before the period
    C2  T0 + 2d         open       the period's first moment: week 03-02
    C3  T0 + 7d         open       week 03-09 (its Monday, 00:00)
    C4  T0 + 13d 23:59  open       week 03-09 (its last second)
    C5  T0 + 8d         withdrawn  week 03-09 (counted as opened, not as open)
    C6  T0 + 14d        closed     week 03-16
    C7  T0 + 15d 12h    open       the period's end, which is not in it

Our sightings (first seen) and what became of their URLs:

    S1   T0 + 0         confirmed     N4: removed at T0 + 2d 10h             -> 58 h
    S2   T0 + 3d        confirmed     N1: removed +6 h; N2: removed +20 h    -> 6 h (the first)
    S10  T0 + 4d        confirmed     N1: removed +1.5 h                     -> 1.5 h
    S3   T0 + 8d        confirmed     N3: the re-check finds it gone +24 h   -> 24 h
    S4   T0 + 9d        confirmed     N5: removed, then came back            -> not removed
    S5   T0 + 10d       confirmed     N6: removed after the period's end     -> not counted
    S8   T0 + 12d       rejected      -
    S6   T0 + 14d 1h    new           -
    S7   T0 + 14d 2h    under review  -
    S9   T0 - 3d        new           -

Our notices: N4 sent T0 + 1d (before), N1 T0 + 3d 1h, N3 T0 + 8d 2h, N2 T0 + 9d,
N5 T0 + 9d 1h, N6 T0 + 10d 1h, N11 T0 + 15d, N10 at the end (not in); N7 and N8 drafted,
N9 approved.

The other organisation has an open case opened at T0 + 3d, a new sighting at T0 + 5d, a
sighting removed in the period 100 h after it was seen, a notice sent at T0 + 5d and a
draft: none of it is ours.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks import service as banks
from reclaim.banks.models import BankItem
from reclaim.cases import service as cases
from reclaim.cases.models import Case, CaseStatus, Organisation
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.sightings import Seen, record_sighting
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.store.db import Database
from reclaim.takedown.models import Notice, NoticeState, NoticeTarget, TargetState
from reclaim.takedown.recheck import Outcome, record
from reclaim.takedown.workload import Workload, week_of, week_starts, workload

from .conftest import World

T0 = datetime(2026, 3, 2, tzinfo=UTC)
SINCE, UNTIL = T0 + timedelta(days=2), T0 + timedelta(days=15, hours=12)
WEEKS = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
S, T = NoticeState, TargetState
Status = SightingStatus


def at(days: float = 0, hours: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, seconds=seconds)


# Hours to removal in the period, sorted: S10 1.5, S2 6, S3 24, S1 58. Type 7 median:
# position (4 - 1) * 0.5 = 1.5 -> 6 + (24 - 6) * 0.5 = 15.0.
EXPECTED = Workload(
    weeks=WEEKS,
    cases_opened=[1, 3, 1],  # C2 | C3, C4, C5 | C6
    sightings=[2, 4, 2],  # S2, S10 | S3, S4, S5, S8 | S6, S7
    notices_sent=[1, 4, 1],  # N1 | N3, N2, N5, N6 | N11
    removal_median_hours=15.0,
    removals=4,
    open_cases=6,  # the world's case, C1, C2, C3, C4, C7
    waiting_review=3,  # S6, S7, S9
    waiting_approval=2,  # N7, N8
)


def _case(session: Session, org: Organisation, when: datetime, status: CaseStatus) -> Case:
    case = cases.open_case(session, org=org, actor="test")
    case.created, case.status = when, status
    return case


def _sighting(
    session: Session, org: Organisation, item_id: int, name: str, when: datetime, status: Status
) -> Sighting:
    item = session.get(BankItem, item_id)
    assert item is not None
    url = f"http://forum.example/{name}.jpg"
    sighting, _ = record_sighting(
        session,
        org=org,
        seen=Seen(
            item=item,
            page_url=f"http://forum.example/{name}",
            media_url=url,
            media_sha256=hashlib.sha256(url.encode()).hexdigest(),
            match={"signal": "pdq", "distance": 0},
            when=when,
        ),
    )
    sighting.status = status
    return sighting


def _notice(
    session: Session,
    org: Organisation,
    state: NoticeState,
    *,
    sent: datetime | None = None,
    targets: tuple[tuple[Sighting, datetime | None], ...] = (),
) -> Notice:
    """A notice with a URL per sighting, each removed at the time given (None: still up)."""
    notice = Notice(
        org_id=org.id,
        channel="host_abuse",
        domain="forum.example",
        language="en",
        recipient="abuse@forum.example",
        subject="notice",
        body_text="text",
        body_html="<p>text</p>",
        drafted_by="test",
        state=state,
        created=sent or T0,
        changed=sent or T0,
        sent_at=sent,
    )
    session.add(notice)
    session.flush()
    for sighting, removed in targets:
        session.add(
            NoticeTarget(
                notice_id=notice.id,
                sighting_id=sighting.id,
                page_url=sighting.page_url,
                media_url=sighting.media_url,
                state=T.REMOVED if removed is not None else T.UP,
                removed_at=removed,
            )
        )
    session.flush()
    return notice


def _ours(session: Session, world: World) -> NoticeTarget:
    """Our rows of the table above; the URL of S3, still unchecked, for the re-check."""
    org = cases.get_org(session)
    world_case = session.get(Case, world.case_id)
    assert world_case is not None
    world_case.created = at(-10)
    for days, status in (
        (1, CaseStatus.OPEN),
        (2, CaseStatus.OPEN),
        (7, CaseStatus.OPEN),
        (13 + (86399 / 86400), CaseStatus.OPEN),
        (8, CaseStatus.WITHDRAWN),
        (14, CaseStatus.CLOSED),
        (15.5, CaseStatus.OPEN),
    ):
        _case(session, org, at(days), status)
    one, two = world.item_ids["one.jpg"], world.item_ids["two.jpg"]
    confirmed = Status.CONFIRMED
    s1 = _sighting(session, org, one, "s1", at(0), confirmed)
    s2 = _sighting(session, org, one, "s2", at(3), confirmed)
    s10 = _sighting(session, org, two, "s10", at(4), confirmed)
    s3 = _sighting(session, org, two, "s3", at(8), confirmed)
    s4 = _sighting(session, org, one, "s4", at(9), confirmed)
    s5 = _sighting(session, org, two, "s5", at(10), confirmed)
    _sighting(session, org, one, "s8", at(12), Status.REJECTED)
    _sighting(session, org, one, "s6", at(14, 1), Status.NEW)
    _sighting(session, org, two, "s7", at(14, 2), Status.UNDER_REVIEW)
    _sighting(session, org, two, "s9", at(-3), Status.NEW)
    _notice(session, org, S.REMOVED, sent=at(1), targets=((s1, at(2, 10)),))
    _notice(
        session,
        org,
        S.REMOVED,
        sent=at(3, 1),
        targets=((s2, at(3, 6)), (s10, at(4, 1.5))),
    )
    n3 = _notice(session, org, S.SENT, sent=at(8, 2), targets=((s3, None),))
    _notice(session, org, S.REMOVED, sent=at(9), targets=((s2, at(3, 20)),))
    s4_notice = _notice(session, org, S.SENT, sent=at(9, 1), targets=((s4, None),))
    came_back = session.scalars(select(NoticeTarget).filter_by(notice_id=s4_notice.id)).one()
    came_back.state, came_back.came_back_at = T.UP, at(11)  # removed at 10d, then back
    _notice(session, org, S.REMOVED, sent=at(10, 1), targets=((s5, UNTIL + timedelta(hours=1)),))
    _notice(session, org, S.SENT, sent=at(15))
    _notice(session, org, S.SENT, sent=UNTIL)
    _notice(session, org, S.DRAFTED)
    _notice(session, org, S.DRAFTED)
    _notice(session, org, S.APPROVED)
    session.flush()
    return session.scalars(select(NoticeTarget).filter_by(notice_id=n3.id)).one()


def _theirs(session: Session, photo: Path) -> None:
    other = cases.create_org(session, slug="other", name="Other")
    case = _case(session, other, at(3), CaseStatus.OPEN)
    bank = banks.create_bank(session, org=other, name="theirs")
    signals = hash_file(HashRequest(str(photo))).signals
    (item,) = banks.add_items(
        session, bank=bank, items=[banks.NewItem(signals, "x", "test")], actor="t", case=case
    )
    _sighting(session, other, item.id, "o1", at(5), Status.NEW)
    removed = _sighting(session, other, item.id, "o2", at(5), Status.CONFIRMED)
    _notice(session, other, S.REMOVED, sent=at(5), targets=((removed, at(5, 100)),))
    _notice(session, other, S.DRAFTED)


@pytest.fixture
def rows(database: Database, world: World, photo_files: dict[str, Path]) -> None:
    with database.session() as session:
        target_id = _ours(session, world).id
        _theirs(session, photo_files["other.jpg"])
    # S3's URL is found gone by the re-check itself, 24 h after S3 was first seen.
    with database.session() as session:
        gone = Outcome(T.REMOVED, "the file is gone (404)", 404)
        record(session, target_id=target_id, outcome=gone, settings=world.settings, now=at(9))
    with database.session() as session:
        checked = session.get(NoticeTarget, target_id)
        assert checked is not None
        assert checked.removed_at == at(9)


def _workload(
    database: Database, since: datetime, until: datetime, slug: str | None = None
) -> Workload:
    with database.session() as session:
        org = cases.get_org(session, slug=slug)
        return workload(session, org=org, since=since, until=until)


def test_the_workload_is_the_one_worked_out_by_hand(database: Database, rows: None) -> None:
    assert _workload(database, SINCE, UNTIL) == EXPECTED


def test_the_period_may_be_given_in_any_time_zone(database: Database, rows: None) -> None:
    seoul = timezone(timedelta(hours=9))
    since, until = SINCE.astimezone(seoul), UNTIL.astimezone(seoul)
    assert since.date() == date(2026, 3, 4)
    assert _workload(database, since, until) == EXPECTED


def test_another_organisation_counts_only_its_own(database: Database, rows: None) -> None:
    assert _workload(database, SINCE, UNTIL, slug="other") == Workload(
        weeks=WEEKS,
        cases_opened=[1, 0, 0],
        sightings=[2, 0, 0],
        notices_sent=[1, 0, 0],
        removal_median_hours=100.0,
        removals=1,
        open_cases=1,
        waiting_review=1,
        waiting_approval=1,
    )


def test_a_period_with_nothing_in_it(database: Database, rows: None) -> None:
    later = _workload(database, at(98), at(112))  # two whole weeks, Monday to Monday
    assert later.weeks == [date(2026, 6, 8), date(2026, 6, 15)]
    assert later.cases_opened == later.sightings == later.notices_sent == [0, 0]
    assert (later.removal_median_hours, later.removals) == (None, 0)
    # The queues are those of now, whatever the period.
    assert (later.open_cases, later.waiting_review, later.waiting_approval) == (6, 3, 2)


def test_an_empty_database(database: Database) -> None:
    assert _workload(database, SINCE, UNTIL) == Workload(
        weeks=WEEKS,
        cases_opened=[0, 0, 0],
        sightings=[0, 0, 0],
        notices_sent=[0, 0, 0],
        removal_median_hours=None,
        removals=0,
        open_cases=0,
        waiting_review=0,
        waiting_approval=0,
    )


def test_a_period_of_no_length_has_no_weeks(database: Database) -> None:
    assert _workload(database, SINCE, SINCE).weeks == []


def test_a_period_backwards_or_without_a_time_zone_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="before it starts"):
        _workload(database, UNTIL, SINCE)
    with pytest.raises(ValueError, match="timezone-aware"):
        _workload(database, SINCE.replace(tzinfo=None), UNTIL)


def test_weeks_start_on_monday_in_utc() -> None:
    # Sunday 23:30 UTC is Monday morning in Seoul, but still the week before in UTC.
    sunday_night = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)
    assert week_of(sunday_night) == date(2026, 3, 2)
    assert week_of(sunday_night.astimezone(timezone(timedelta(hours=9)))) == date(2026, 3, 2)
    assert week_of(datetime(2026, 3, 9, tzinfo=UTC)) == date(2026, 3, 9)
    # ISO week 1 of 2026 starts on Monday 2025-12-29: a period across the new year.
    new_year = week_starts(datetime(2025, 12, 31, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC))
    assert new_year == [date(2025, 12, 29), date(2026, 1, 5)]
    # An end on a Monday at midnight does not reach into that week.
    assert week_starts(T0, T0 + timedelta(weeks=1)) == [date(2026, 3, 2)]
