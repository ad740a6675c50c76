"""Notices from confirmed sightings to the recipient's mailbox: drafted once, approved by
the right people, mailed exactly once through a real SMTP server, every step on the case
timeline and in the custody log -- and refused where a survivor withdrew or never agreed."""

from __future__ import annotations

import threading
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.cases.models import CaseStatus, ConsentPurpose
from reclaim.cases.roles import Actor, NotAllowed, Role
from reclaim.evidence.models import CustodyEntry
from reclaim.takedown import outbox, service
from reclaim.takedown.directory import seed_authorities
from reclaim.takedown.drafting import DraftOptions, NotDraftable
from reclaim.takedown.models import MailState, Notice, NoticeState, OutboxMessage
from reclaim.takedown.workflow import BadTransition, CaseWithdrawn, NotReady, reference

from .conftest import World, case_of, resolve, settings_for, sight

REVIEWER = Actor("kim.reviewer", Role.REVIEWER)
SECOND = Actor("lee.admin", Role.ADMIN)
AUDITOR = Actor("park.auditor", Role.AUDITOR)
WORKER = Actor("choi.worker", Role.CASE_WORKER)


def _smtp(tmp_path, server, **extra):  # type: ignore[no-untyped-def]
    return settings_for(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_security="none",
        mail_from="notices@support.example",
        **extra,
    )


def _states(session, notice_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    entries = session.scalars(select(CustodyEntry).order_by(CustodyEntry.position)).all()
    import json

    bodies = [json.loads(e.body) for e in entries]
    return [
        b["state"]
        for b in bodies
        if b["event"] == "notice" and b["notice"].endswith(f"{notice_id:06d}")
    ]


def test_a_confirmed_sighting_is_drafted_approved_and_mailed_exactly_once(
    database, world: World, smtp_server, tmp_path
) -> None:
    first = sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    second = sight(database, world, page="/post/2", image="/img/2.jpg", photo="two.jpg")
    sight(database, world, page="/post/3", image="/img/3.jpg", photo="one.jpg", confirm=False)
    settings = _smtp(tmp_path, smtp_server)
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        assert service.draft_confirmed(session, settings=settings, resolver=resolve) == []
        assert notice.channel == "host_abuse"
        assert notice.state is NoticeState.DRAFTED
        assert (notice.recipient, notice.recipient_origin) == ("abuse@forum.example", "convention")
        listed = {t.sighting_id for t in service.targets(session, notice=notice)}
        assert listed == {first, second}  # one notice per site; the unconfirmed one left out
        for text in (notice.body_text, notice.body_html, notice.subject):
            assert world.case_number not in text
        assert world.url("/post/1") in notice.body_text
        assert world.url("/img/2.jpg") in notice.body_text
        with pytest.raises(NotAllowed):
            service.approve(session, notice=notice, actor=AUDITOR, settings=settings)
        approved = service.approve(session, notice=notice, actor=WORKER, settings=settings)
        assert approved.complete
        assert notice.state is NoticeState.APPROVED
        notice_id = notice.id
    assert outbox.send_due(database, settings).sent == 1
    assert outbox.send_due(database, settings).sent == 0
    (envelope,) = smtp_server.mailbox.accepted
    assert envelope.rcpt_tos == ["abuse@forum.example"]
    assert envelope.mail_from == "notices@support.example"
    mail = message_from_bytes(envelope.original_content or b"", policy=default)
    assert isinstance(mail, EmailMessage)
    with database.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        row = service.mail_of(session, notice=notice)
        assert row is not None
        assert row.state is MailState.SENT
        assert mail["Message-ID"] == row.message_id
        assert mail["Reply-To"] == "desk@support.example"
        assert mail["X-Reclaim-Notice"] == reference(notice)
        plain = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert plain is not None
        assert html is not None
        assert world.url("/img/1.jpg") in plain.get_content()
        assert "<img" not in html.get_content()
        assert notice.state is NoticeState.SENT
        assert notice.escalate_after is not None
        assert _states(session, notice_id) == ["drafted", "approved", "sent"]
        timeline = cases.timeline(session, case=case_of(session, world))
        changes = [e.state for e in timeline if e.name == "takedown.changed"]  # type: ignore[attr-defined]
        assert changes == ["drafted", "approved", "sent"]


def test_two_approvers_must_be_two_people_and_an_edit_needs_them_again(
    database, world: World, tmp_path
) -> None:
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    settings = settings_for(tmp_path, takedown_approvals=2)
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        assert not service.approve(
            session, notice=notice, actor=REVIEWER, settings=settings
        ).complete
        with pytest.raises(BadTransition, match="already approved"):
            service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        service.edit_notice(
            session, notice=notice, actor=WORKER, subject="Removal\r\nBcc: x@evil.example"
        )
        assert "\n" not in notice.subject
        assert "\r" not in notice.subject
        with pytest.raises(NotReady):
            service.edit_notice(
                session, notice=notice, actor=WORKER, recipient="a@b.example\r\nBcc: c@d.example"
            )
        result = service.approve(session, notice=notice, actor=SECOND, settings=settings)
        assert not result.complete  # the reviewer approved the earlier version only
        assert service.approve(session, notice=notice, actor=REVIEWER, settings=settings).complete
        assert notice.state is NoticeState.APPROVED
        with pytest.raises(BadTransition):
            service.edit_notice(session, notice=notice, actor=WORKER, text="too late")


def test_two_people_approving_at_once_approve_it_once(database, world: World, tmp_path) -> None:
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    settings = settings_for(tmp_path)
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        notice_id = notice.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(actor: Actor) -> None:
        barrier.wait()
        try:
            with database.session() as session:
                notice = session.get(Notice, notice_id)
                assert notice is not None
                outcomes.append(
                    "complete"
                    if service.approve(
                        session, notice=notice, actor=actor, settings=settings
                    ).complete
                    else "partial"
                )
        except BadTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=approve, args=(a,)) for a in (REVIEWER, SECOND)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["complete", "refused"]
    with database.session() as session:
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.notice_id == notice_id))
        assert len(session.scalars(select(OutboxMessage)).all()) == 1
        assert _states(session, notice_id) == ["drafted", "approved"]


def test_nothing_is_drafted_or_sent_without_consent_confirmation_or_after_withdrawal(
    database, world: World, smtp_server, tmp_path
) -> None:
    unconfirmed = sight(
        database, world, page="/post/9", image="/img/9.jpg", photo="two.jpg", confirm=False
    )
    confirmed = sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    settings = _smtp(tmp_path, smtp_server)
    with database.session() as session:
        org = cases.get_org(session)
        with pytest.raises(NotDraftable, match="confirmed"):
            service.draft_sightings(
                session,
                org=org,
                sighting_ids=[unconfirmed],
                actor="t",
                settings=settings,
                resolver=resolve,
            )
        case = case_of(session, world)
        cases.record_consent(
            session, case=case, purpose=ConsentPurpose.TAKEDOWN, granted=False, actor="her"
        )
        with pytest.raises(NotDraftable, match="consent"):
            service.draft_sightings(
                session,
                org=org,
                sighting_ids=[confirmed],
                actor="t",
                settings=settings,
                resolver=resolve,
            )
        assert service.draft_confirmed(session, settings=settings, resolver=resolve) == []
        cases.record_consent(
            session, case=case, purpose=ConsentPurpose.TAKEDOWN, granted=True, actor="her"
        )
        (notice,) = service.draft_sightings(
            session,
            org=org,
            sighting_ids=[confirmed],
            actor="t",
            settings=settings,
            resolver=resolve,
        )
        service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        case.status = CaseStatus.WITHDRAWN
        assert service.withdraw_case(session, case=case, actor="her") == 1
        assert notice.state is NoticeState.CANCELLED
        with pytest.raises(CaseWithdrawn):
            service.draft_sightings(
                session,
                org=org,
                sighting_ids=[confirmed],
                actor="t",
                settings=settings,
                resolver=resolve,
            )
    assert outbox.send_due(database, settings).sent == 0
    assert smtp_server.mailbox.started == []


def test_a_web_form_channel_is_filled_in_for_a_person_and_marked_when_submitted(
    database, world: World, tmp_path
) -> None:
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    settings = settings_for(tmp_path)
    with database.session() as session:
        org = cases.get_org(session)
        seed_authorities(session, org=org)
        notices = service.draft_case(
            session, org=org, case=case_of(session, world), actor="t", settings=settings,
            options=DraftOptions(channel="kcsc"), resolver=resolve,
        )  # fmt: skip
        (notice,) = notices
        assert notice.recipient is None
        assert notice.form_url
        assert notice.form_url in notice.body_text
        assert notice.language == "ko"
        service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        assert service.mail_of(session, notice=notice) is None  # nothing to mail
        with pytest.raises(NotAllowed):
            service.submitted(session, notice=notice, actor=AUDITOR, settings=settings)
        service.submitted(session, notice=notice, actor=WORKER, settings=settings)
        assert notice.state is NoticeState.SENT
        with pytest.raises(BadTransition):
            service.submitted(session, notice=notice, actor=WORKER, settings=settings)


def test_an_approved_notice_is_not_sent_once_she_withdrew(
    database, world: World, smtp_server, tmp_path
) -> None:
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    settings = _smtp(tmp_path, smtp_server)
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        notice_id = notice.id
        case_of(session, world).status = CaseStatus.WITHDRAWN  # by whatever path
    assert outbox.send_due(database, settings).sent == 0
    assert smtp_server.mailbox.started == []
    with database.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        assert notice.state is NoticeState.CANCELLED
        mail = service.mail_of(session, notice=notice)
        assert mail is not None
        assert mail.state is MailState.FAILED


def test_a_minors_case_goes_to_a_hotline_first(database, world: World, tmp_path) -> None:
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    settings = settings_for(tmp_path)
    with database.session() as session:
        org = cases.get_org(session)
        seed_authorities(session, org=org)
        case_of(session, world).minor = True
        notices = service.draft_confirmed(session, settings=settings, resolver=resolve)
        assert {n.channel for n in notices} == {"hotline"}
        assert all(n.form_url or n.recipient for n in notices)
        for notice in notices:
            assert "Act on the Protection of Children and Youth" in notice.body_text
            assert "must not be downloaded or forwarded" in notice.body_text
        case_of(session, world).minor = False  # an adult's case never goes to a hotline
        with pytest.raises(NotDraftable, match="not for this case"):
            service.draft_case(
                session, org=org, case=case_of(session, world), actor="t", settings=settings,
                options=DraftOptions(channel="hotline"), resolver=resolve,
            )  # fmt: skip


def test_a_refusal_counts_as_an_answer(database, world: World, smtp_server, tmp_path) -> None:
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    settings = _smtp(tmp_path, smtp_server)
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        notice_id = notice.id
    assert outbox.send_due(database, settings).sent == 1
    with database.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        service.mark(session, notice=notice, state=NoticeState.REFUSED, actor=WORKER, reason="no")
        assert notice.acknowledged_at is not None
        assert notice.resolved_at is not None
        assert notice.escalate_after is not None
        assert notice.escalate_after <= notice.resolved_at + timedelta(seconds=1)
        with pytest.raises(BadTransition):
            service.mark(session, notice=notice, state=NoticeState.ESCALATED, actor=WORKER)
