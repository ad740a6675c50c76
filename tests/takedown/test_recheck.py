"""Re-checks against the loopback forum move notices along: a page taken down, a file
re-encoded (still up), a file replaced (removed), content coming back or re-uploaded
elsewhere (the takedown reopens), a server in trouble (nothing decided) -- and notices
left unanswered escalate to the next channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.cases.roles import Actor, Role
from reclaim.config import Settings
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.signals.hasher import FileHasher
from reclaim.store.base import utcnow
from reclaim.takedown import outbox, service
from reclaim.takedown.directory import set_contact
from reclaim.takedown.models import Check, Notice, NoticeState, NoticeTarget, TargetState
from reclaim.takedown.recheck import Rechecker

from ..monitor.conftest import send
from .conftest import SmtpServer, World, case_of, reencoded, resolve, settings_for, sight

REVIEWER = Actor("kim.reviewer", Role.REVIEWER)
T = TargetState


@pytest.fixture(scope="module")
def hasher() -> Iterator[FileHasher]:
    hasher = FileHasher(Settings())
    yield hasher
    hasher.close()


def _sent(database, world: World, settings: Settings) -> int:  # type: ignore[no-untyped-def]
    """Two copies on the forum, reported in one notice that was mailed."""
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    sight(database, world, page="/post/2", image="/img/2.jpg", photo="two.jpg")
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        notice_id = notice.id
    assert outbox.send_due(database, settings).sent == 1
    return notice_id


def _targets(database, notice_id: int) -> dict[str, NoticeTarget]:  # type: ignore[no-untyped-def]
    with database.session() as session:
        rows = session.scalars(
            select(NoticeTarget).where(NoticeTarget.notice_id == notice_id)
        ).all()
        for row in rows:
            session.expunge(row)
        return {row.page_url.rsplit("/", 1)[1]: row for row in rows}


def _notice(database, notice_id: int) -> Notice:  # type: ignore[no-untyped-def]
    with database.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        session.expunge(notice)
        return notice


def _settings(tmp_path, smtp_server: SmtpServer) -> Settings:  # type: ignore[no-untyped-def]
    return settings_for(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        mail_from="notices@support.example",
        takedown_recheck_hours=6,
        takedown_watch_days=30,
    )


def test_rechecks_follow_the_content_until_it_is_gone_and_reopen_when_it_returns(
    database, world: World, smtp_server: SmtpServer, hasher: FileHasher, tmp_path
) -> None:
    settings = _settings(tmp_path, smtp_server)
    notice_id = _sent(database, world, settings)
    sent_at = _notice(database, notice_id).sent_at
    assert sent_at is not None
    with Fetcher(FetchLimits.from_settings(settings), resolver=resolve) as fetcher:
        checker = Rechecker(
            database, settings, fetcher=fetcher, hasher=hasher, matchers=MatcherCache()
        )
        clock = iter(sent_at + timedelta(hours=6 * step, minutes=1) for step in range(1, 100))

        def run() -> dict[str, NoticeTarget]:
            checker.run(now=next(clock))
            return _targets(database, notice_id)

        assert checker.run(now=sent_at).checked == 0  # nothing due yet
        first = run()
        assert (first["1"].state, first["2"].state) == (T.UP, T.UP)
        assert first["2"].detail == "the same file is still served"
        assert _notice(database, notice_id).state is NoticeState.SENT

        world.take_down("/post/1")
        world.files["/img/2.jpg"] = reencoded(world.photos["two.jpg"])
        after = run()
        assert after["1"].state is T.REMOVED
        assert after["1"].detail == "the page is gone (404)"
        assert after["2"].state is T.UP
        assert after["2"].detail == "a re-encoded copy still matches"
        assert _notice(database, notice_id).state is NoticeState.PARTIALLY_REMOVED

        world.files["/img/2.jpg"] = world.photos["other.jpg"]  # replaced by another picture
        gone = run()
        assert gone["2"].state is T.REMOVED
        assert gone["2"].detail == "the file no longer matches the banked item"
        removed = _notice(database, notice_id)
        assert removed.state is NoticeState.REMOVED
        assert removed.resolved_at is not None

        # Removed URLs stay watched (less often); the first page comes back.
        world.publish("/post/1", "/img/1.jpg", "one.jpg")
        checker.run(now=sent_at + timedelta(days=3))
        back = _targets(database, notice_id)
        assert back["1"].state is T.UP
        assert back["1"].came_back_at is not None
        with database.session() as session:
            reopened = session.scalars(select(Notice).where(Notice.previous_id == notice_id)).all()
            assert [(n.reopens, n.channel, n.state) for n in reopened] == [
                (True, "host_abuse", NoticeState.DRAFTED)
            ]
            events = [e.name for e in cases.timeline(session, case=case_of(session, world))]
            assert "takedown.reupload" in events
            checks = session.scalars(select(Check).order_by(Check.id)).all()
            assert len(checks) >= 7
        assert _notice(database, notice_id).state is NoticeState.REMOVED  # its record stands


def test_a_reupload_elsewhere_reopens_the_takedown(
    database, world: World, smtp_server: SmtpServer, hasher: FileHasher, tmp_path
) -> None:
    settings = _settings(tmp_path, smtp_server)
    notice_id = _sent(database, world, settings)
    world.take_down("/post/1")
    world.take_down("/post/2")
    sent_at = _notice(database, notice_id).sent_at
    assert sent_at is not None
    with Fetcher(FetchLimits.from_settings(settings), resolver=resolve) as fetcher:
        checker = Rechecker(
            database, settings, fetcher=fetcher, hasher=hasher, matchers=MatcherCache()
        )
        checker.run(now=sent_at + timedelta(hours=7))
        assert _notice(database, notice_id).state is NoticeState.REMOVED
        # The monitor meets the same picture on another site afterwards (not yet reviewed).
        sight(
            database,
            world,
            page="/p/9",
            image="/m/9.jpg",
            photo="two.jpg",
            host="mirror.example",
            confirm=False,
            when=sent_at + timedelta(hours=7, minutes=30),
        )
        tally = checker.run(now=sent_at + timedelta(hours=8))
        assert tally.reopened == 1
        assert checker.run(now=sent_at + timedelta(hours=9)).reopened == 0  # once
    with database.session() as session:
        (again,) = session.scalars(select(Notice).where(Notice.reopens.is_(True))).all()
        assert again.domain == "mirror.example"
        assert again.previous_id == notice_id
        assert again.state is NoticeState.DRAFTED  # a person approves it like any other
        assert "mirror.example" in again.body_text


def test_trouble_on_the_server_decides_nothing(
    database, world: World, smtp_server: SmtpServer, hasher: FileHasher, tmp_path
) -> None:
    settings = _settings(tmp_path, smtp_server)
    notice_id = _sent(database, world, settings)
    world.site.routes["/post/1"] = lambda h: send(h, 503, b"busy", "text/plain")
    world.site.routes["/post/2"] = lambda h: send(
        h, 200, b"<html><body>no picture here now</body></html>", "text/html"
    )
    sent_at = _notice(database, notice_id).sent_at
    assert sent_at is not None
    with Fetcher(FetchLimits.from_settings(settings), resolver=resolve) as fetcher:
        checker = Rechecker(
            database, settings, fetcher=fetcher, hasher=hasher, matchers=MatcherCache()
        )
        tally = checker.run(now=sent_at + timedelta(hours=7))
    assert (tally.unreachable, tally.changed) == (1, 1)
    targets = _targets(database, notice_id)
    assert targets["1"].detail == "the page answered 503"
    assert targets["2"].state is T.CHANGED  # the file itself is still served
    assert _notice(database, notice_id).state is NoticeState.SENT


def test_watching_removed_content_ends_after_the_watch_window(
    database, world: World, smtp_server: SmtpServer, hasher: FileHasher, tmp_path
) -> None:
    settings = _settings(tmp_path, smtp_server)
    notice_id = _sent(database, world, settings)
    world.take_down("/post/1")
    world.take_down("/post/2")
    sent_at = _notice(database, notice_id).sent_at
    assert sent_at is not None
    with Fetcher(FetchLimits.from_settings(settings), resolver=resolve) as fetcher:
        checker = Rechecker(
            database, settings, fetcher=fetcher, hasher=hasher, matchers=MatcherCache()
        )
        moment: datetime = sent_at + timedelta(hours=7)
        runs = 0
        while any(t.next_check is not None for t in _targets(database, notice_id).values()):
            checker.run(now=moment)
            moment += timedelta(days=1)
            runs += 1
            assert runs < 40
    assert 25 <= runs <= 32  # checked every 24 h for about the 30 days of the watch


def test_an_unanswered_notice_escalates_to_the_hosting_provider(
    database, world: World, smtp_server: SmtpServer, tmp_path
) -> None:
    settings = _settings(tmp_path, smtp_server)
    notice_id = _sent(database, world, settings)
    with database.session() as session:
        org = cases.get_org(session)
        set_contact(
            session, org=org, domain="hoster.example", channel="hosting_provider",
            email="abuse@hoster.example", networks="127.0.0.0/24", languages="en",
        )  # fmt: skip
        notice = session.get(Notice, notice_id)
        assert notice is not None
        assert notice.escalate_after is not None
        early = notice.escalate_after - timedelta(minutes=1)
        assert service.escalate_due(session, settings=settings, now=early, resolver=resolve) == []
        late = notice.escalate_after + timedelta(minutes=1)
        (next_one,) = service.escalate_due(session, settings=settings, now=late, resolver=resolve)
        assert notice.state is NoticeState.ESCALATED
        assert (next_one.channel, next_one.recipient) == (
            "hosting_provider",
            "abuse@hoster.example",
        )
        assert next_one.previous_id == notice_id
        assert service.escalate_due(session, settings=settings, now=late, resolver=resolve) == []
        timeline = cases.timeline(session, case=case_of(session, world))
        states = [e.state for e in timeline if e.name == "takedown.changed"]  # type: ignore[attr-defined]
        assert states[-3:] == ["no_answer", "drafted", "escalated"]


def test_nothing_is_followed_up_once_she_withdrew(
    database, world: World, smtp_server: SmtpServer, hasher: FileHasher, tmp_path
) -> None:
    settings = _settings(tmp_path, smtp_server)
    notice_id = _sent(database, world, settings)
    with database.session() as session:
        case = case_of(session, world)
        assert service.withdraw_case(session, case=case, actor="her") == 0  # it went out
    later = utcnow() + timedelta(days=5)
    with Fetcher(FetchLimits.from_settings(settings), resolver=resolve) as fetcher:
        checker = Rechecker(
            database, settings, fetcher=fetcher, hasher=hasher, matchers=MatcherCache()
        )
        assert checker.run(now=later).checked == 0
    with database.session() as session:
        assert service.escalate_due(session, settings=settings, now=later, resolver=resolve) == []
    assert _notice(database, notice_id).state is NoticeState.SENT  # its record stands
