"""Answers to a notice that really went out through the loopback SMTP server: a person's
reply and an automatic one acknowledge it, a delivery failure marks its mail bounced and
escalates it at once (without ever sending again), and nothing loops -- the same bounce
twice, a bounce of a bounce, a bounce about someone else's mail, fifty bounces in a row.
Received mail is hostile input: empty, garbage, oversized, nested, with line breaks hidden
in its headers or a charset nobody knows, it is refused cleanly or stored cleaned."""

from __future__ import annotations

import json
import random
import tracemalloc
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reclaim.cases import service as cases
from reclaim.cases.roles import Actor, Role
from reclaim.config import Settings
from reclaim.evidence.models import CustodyEntry
from reclaim.store.db import Database
from reclaim.takedown import outbox, service
from reclaim.takedown.models import MailState, Notice, NoticeState, OutboxMessage, Reply
from reclaim.takedown.replies import MAX_CONTAINERS, MAX_MESSAGE, BadMessage, import_message
from reclaim.takedown.workflow import reference

from .conftest import SmtpServer, World, case_of, resolve, settings_for, sight

REVIEWER = Actor("kim.reviewer", Role.REVIEWER)
DAEMON = "Mail Delivery System <MAILER-DAEMON@mx.forum.example>"


@dataclass(frozen=True)
class Mailed:
    """A notice approved and accepted by the SMTP server, and the mail as it went out."""

    settings: Settings
    notice_id: int
    reference: str
    message_id: str
    sent: bytes
    subject: str


@dataclass(frozen=True)
class Got:
    kind: str
    notice_id: int | None
    new: bool
    sender: str
    subject: str
    body: str


@pytest.fixture
def mailed(database: Database, world: World, smtp_server: SmtpServer, tmp_path: Path) -> Mailed:
    settings = settings_for(
        tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_security="none",
        mail_from="notices@support.example",
    )  # fmt: skip
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    with database.session() as session:
        (notice,) = service.draft_confirmed(session, settings=settings, resolver=resolve)
        service.approve(session, notice=notice, actor=REVIEWER, settings=settings)
        notice_id, ref = notice.id, reference(notice)
    assert outbox.send_due(database, settings).sent == 1
    (envelope,) = smtp_server.mailbox.accepted
    sent = envelope.original_content or b""
    parsed = message_from_bytes(sent, policy=SMTP)
    with database.session() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.notice_id == notice_id))
        assert row is not None
        assert row.state is MailState.SENT
        assert parsed["Message-ID"] == row.message_id
        return Mailed(settings, notice_id, ref, row.message_id, sent, str(parsed["Subject"]))


def _import(database: Database, raw: bytes, *, org_slug: str | None = None) -> Got:
    with database.session() as session:
        org = cases.get_org(session, slug=org_slug)
        imported = import_message(session, org=org, raw=raw)
        reply = imported.reply
        return Got(
            reply.kind, reply.notice_id, imported.new, reply.sender, reply.subject, reply.body
        )


def _answer(
    subject: str,
    *,
    headers: dict[str, str] | None = None,
    body: str = "Thank you, we have removed the post.",
    sender: str = "Forum Abuse Desk <abuse@forum.example>",
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = "desk@support.example"
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="forum.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def _fields(**fields: str) -> Message:
    block = Message(policy=SMTP)
    for name, value in fields.items():
        block[name.replace("_", "-")] = value
    return block


def _bounce(
    returned: bytes,
    *,
    how: str = "message/rfc822",
    action: str = "failed",
    subject: str = "Undelivered Mail Returned to Sender",
) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix sends it, returning ``returned``
    in full or its headers only."""
    report = MIMEMultipart("report", report_type="delivery-status", policy=SMTP)
    report["From"] = DAEMON
    report["To"] = "notices@support.example"
    report["Subject"] = subject
    report["Date"] = formatdate()
    report["Message-ID"] = make_msgid(domain="mx.forum.example")
    report["Auto-Submitted"] = "auto-replied"
    report.attach(
        MIMEText(
            "I'm sorry to have to inform you that your message could not be delivered.\n\n"
            "<abuse@forum.example>: host mx.forum.example said: 550 5.1.1 User unknown\n",
            policy=SMTP,
        )
    )
    status = Message(policy=SMTP)
    status["Content-Type"] = "message/delivery-status"
    status.set_payload(
        [
            _fields(Reporting_MTA="dns; mx.forum.example"),
            _fields(Final_Recipient="rfc822; abuse@forum.example", Action=action, Status="5.1.1"),
        ]
    )
    report.attach(status)
    if how == "message/rfc822":
        report.attach(MIMEMessage(message_from_bytes(returned, policy=SMTP), policy=SMTP))
    else:
        headers = returned.split(b"\r\n\r\n", 1)[0].decode("ascii")
        report.attach(MIMEText(headers + "\r\n", "rfc822-headers", policy=SMTP))
    return report.as_bytes()


def _notice(database: Database, notice_id: int) -> Notice:
    with database.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        session.expunge(notice)
        return notice


def _mail_rows(database: Database) -> list[OutboxMessage]:
    with database.session() as session:
        rows = list(session.scalars(select(OutboxMessage)))
        session.expunge_all()
        return rows


def _custody_states(database: Database, notice_id: int) -> list[str]:
    with database.session() as session:
        bodies = [json.loads(b) for b in session.scalars(select(CustodyEntry.body))]
    suffix = f"{notice_id:06d}"
    return [b["state"] for b in bodies if b["event"] == "notice" and b["notice"].endswith(suffix)]


def _timeline_states(database: Database, world: World) -> list[str]:
    with database.session() as session:
        events = cases.timeline(session, case=case_of(session, world))
        return [e.state for e in events if e.name == "takedown.changed"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({}, "reply"),
        ({"Auto-Submitted": "auto-replied"}, "auto"),
        ({"X-Autoreply": "yes"}, "auto"),
    ],
)
def test_an_answer_to_the_mailed_notice_acknowledges_it(
    database: Database, world: World, mailed: Mailed, headers: dict[str, str], kind: str
) -> None:
    before = datetime.now(UTC)
    raw = _answer(
        f"Re: {mailed.subject}",
        headers={"In-Reply-To": mailed.message_id, "References": mailed.message_id, **headers},
    )
    got = _import(database, raw)
    assert (got.kind, got.notice_id, got.new) == (kind, mailed.notice_id, True)
    assert got.sender == "Forum Abuse Desk <abuse@forum.example>"
    assert got.subject == f"Re: {mailed.subject}"
    assert got.body.strip() == "Thank you, we have removed the post."
    notice = _notice(database, mailed.notice_id)
    assert notice.state is NoticeState.ACKNOWLEDGED
    assert notice.acknowledged_at is not None
    assert notice.acknowledged_at >= before
    assert _custody_states(database, mailed.notice_id) == [
        "drafted",
        "approved",
        "sent",
        "acknowledged",
    ]
    assert _timeline_states(database, world)[-1] == "acknowledged"
    # A second answer is kept but moves nothing further; the same one again is not stored twice.
    again = _answer("Re: done", headers={"In-Reply-To": mailed.message_id})
    assert _import(database, again).notice_id == mailed.notice_id
    assert not _import(database, again).new
    assert _custody_states(database, mailed.notice_id)[-1] == "acknowledged"
    assert _notice(database, mailed.notice_id).state is NoticeState.ACKNOWLEDGED


@pytest.mark.parametrize("how", ["message/rfc822", "text/rfc822-headers"])
def test_a_bounce_marks_the_mail_bounced_and_escalates_without_resending(
    database: Database, world: World, smtp_server: SmtpServer, mailed: Mailed, how: str
) -> None:
    escalate_at = _notice(database, mailed.notice_id).escalate_after
    assert escalate_at is not None
    assert escalate_at > datetime.now(UTC) + timedelta(hours=1)  # days away, as sent
    got = _import(database, _bounce(mailed.sent, how=how))
    assert (got.kind, got.notice_id, got.new) == ("bounce", mailed.notice_id, True)
    assert "MAILER-DAEMON" in got.sender
    assert "could not be delivered" in got.body
    (row,) = _mail_rows(database)
    assert row.state is MailState.BOUNCED
    assert "bounced" in (row.last_error or "")
    notice = _notice(database, mailed.notice_id)
    assert notice.state is NoticeState.SENT  # nobody answered: the clock ran out instead
    assert notice.escalate_after is not None
    assert notice.escalate_after <= datetime.now(UTC)
    accepted = len(smtp_server.mailbox.started)
    assert outbox.send_due(database, mailed.settings).sent == 0
    assert len(smtp_server.mailbox.started) == accepted
    with database.session() as session:
        drafted = service.escalate_due(session, settings=mailed.settings, resolver=resolve)
        assert [(n.previous_id, n.channel, n.reopens) for n in drafted] == [
            (mailed.notice_id, "hosting_provider", False)
        ]
    assert _notice(database, mailed.notice_id).state is NoticeState.ESCALATED
    assert _custody_states(database, mailed.notice_id)[-2:] == ["no_answer", "escalated"]
    assert outbox.send_due(database, mailed.settings).sent == 0
    assert len(smtp_server.mailbox.started) == accepted


def test_a_delay_warning_is_not_a_bounce(database: Database, mailed: Mailed) -> None:
    """Postfix and Exchange warn that delivery is *delayed* with the same kind of report:
    the mail may still arrive, so nothing bounces and nothing escalates early."""
    before = _notice(database, mailed.notice_id).escalate_after
    got = _import(database, _bounce(mailed.sent, action="delayed", subject="Delayed Mail"))
    assert (got.kind, got.notice_id) == ("status", mailed.notice_id)
    (row,) = _mail_rows(database)
    assert row.state is MailState.SENT
    notice = _notice(database, mailed.notice_id)
    assert (notice.state, notice.escalate_after) == (NoticeState.SENT, before)


def test_bounces_cannot_loop(database: Database, smtp_server: SmtpServer, mailed: Mailed) -> None:
    before = _notice(database, mailed.notice_id)
    bounce = _bounce(mailed.sent)
    # A bounce of that bounce (the returned mail is itself a report returning the notice),
    # and a bounce of mail we never sent -- whose subject quotes the notice's reference.
    looped = _bounce(bounce, subject=f"Undelivered Mail Returned to Sender: {mailed.subject}")
    stranger = _bounce(
        _answer(mailed.subject, headers={"X-Reclaim-Notice": mailed.reference}),
        subject=f"Undeliverable: {mailed.subject}",
    )
    for raw in (looped, stranger):
        got = _import(database, raw)
        assert (got.kind, got.notice_id, got.new) == ("bounce", None, True)
    (row,) = _mail_rows(database)
    assert row.state is MailState.SENT
    after = _notice(database, mailed.notice_id)
    assert (after.state, after.escalate_after) == (before.state, before.escalate_after)

    first, second = _import(database, bounce), _import(database, bounce)
    assert (first.new, second.new) == (True, False)
    for _ in range(50):
        assert _import(database, _bounce(mailed.sent)).notice_id == mailed.notice_id
    (row,) = _mail_rows(database)
    assert row.state is MailState.BOUNCED
    assert row.attempts == 1
    accepted = len(smtp_server.mailbox.started)
    tally = outbox.send_due(database, mailed.settings)
    assert (tally.sent, tally.retried, tally.failed, tally.uncertain) == (0, 0, 0, 0)
    assert len(smtp_server.mailbox.started) == accepted == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 2 + 1 + 50
    assert _custody_states(database, mailed.notice_id) == ["drafted", "approved", "sent"]


def test_a_copy_of_the_notice_itself_acknowledges_nothing(
    database: Database, mailed: Mailed
) -> None:
    """A mailbox file with the sent mail in it: the notice carries its own reference."""
    got = _import(database, mailed.sent)
    assert (got.kind, got.notice_id) == ("reply", None)
    assert _notice(database, mailed.notice_id).state is NoticeState.SENT


def test_a_reply_naming_only_the_reference_is_tied_to_its_notice(
    database: Database, mailed: Mailed
) -> None:
    with database.session() as session:
        other = cases.create_org(session, slug="other-centre", name="Other centre")
        other_id = other.id
    ours = mailed.reference
    theirs = f"RCL-{other_id}-{mailed.notice_id:06d}"
    org_part = ours.split("-")[1]
    huge = f"RCL-{org_part}-" + "9" * 40  # more digits than any database integer holds
    for subject in (f"Re: {theirs} removal", f"Re: {huge}", f"RCL-{org_part}-00001 too short"):
        assert _import(database, _answer(subject)).notice_id is None
    assert _notice(database, mailed.notice_id).state is NoticeState.SENT
    # Another organisation importing our answer -- by reference or by Message-ID -- gets nothing.
    for raw in (
        _answer(f"Re: [{ours}]"),
        _answer("Re: notice", headers={"In-Reply-To": mailed.message_id}),
    ):
        assert _import(database, raw, org_slug="other-centre").notice_id is None
    assert _notice(database, mailed.notice_id).state is NoticeState.SENT
    got = _import(database, _answer(f"Re: {theirs} and [{ours}] (our ticket 4411)"))
    assert (got.kind, got.notice_id) == ("reply", mailed.notice_id)
    assert _notice(database, mailed.notice_id).state is NoticeState.ACKNOWLEDGED


def test_the_reference_header_ties_an_answer_too(database: Database, mailed: Mailed) -> None:
    raw = _answer("Your request", headers={"X-Reclaim-Notice": mailed.reference})
    assert _import(database, raw).notice_id == mailed.notice_id


def _encoded(text: str) -> str:
    return f"=?utf-8?b?{b64encode(text.encode()).decode()}?="


def _raw(headers: str, body: bytes = b"hello\r\n") -> bytes:
    return headers.replace("\n", "\r\n").encode("utf-8") + b"\r\n" + body


def _nested(levels: int) -> bytes:
    parts = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(levels)
    )
    return b"From: a@b.example\r\nMessage-ID: <n@b.example>\r\n" + parts.encode()


def _many_parts(size: int) -> bytes:
    part = b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    head = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    return head + part * ((size - len(head)) // len(part)) + b"--B--\r\n"


def _garbage() -> Iterator[bytes]:
    rng = random.Random(20240611)
    for size in (1, 17, 4096, 1 << 20):
        yield rng.randbytes(size).replace(b":", b";")


REFUSED = [
    pytest.param(b"", id="empty"),
    pytest.param(b" \r\n\t\r\n", id="blank"),
    *(pytest.param(g, id=f"garbage-{len(g)}") for g in _garbage()),
    pytest.param(b"Subject: no sender\r\n\r\nbody", id="no-from-nor-message-id"),
    pytest.param(_raw("From: a@b.example\n") + b"x" * MAX_MESSAGE, id="over-10-MB"),
    pytest.param(_many_parts(MAX_MESSAGE - 1000), id="10-MB-of-empty-parts"),
    pytest.param(_nested(MAX_CONTAINERS + 1), id="multipart-nested-too-deep"),
    pytest.param(
        b"From: a@b.example\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * 20_000,
        id="message-nested-20000-deep",
    ),
    # The standard parser raises IndexError on this parameter list.
    pytest.param(_raw("From: a@b.example\nContent-Type: text/plain; .*\n"), id="bad-params"),
]


@pytest.mark.parametrize("raw", REFUSED)
def test_what_is_not_a_readable_message_is_refused_cleanly(database: Database, raw: bytes) -> None:
    with pytest.raises(BadMessage):
        _import(database, raw)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 0


def test_parts_nested_as_deep_as_the_limit_allows_are_read(database: Database) -> None:
    got = _import(database, _nested(MAX_CONTAINERS))
    assert (got.kind, got.body) == ("reply", "")


TRICKS = "\r\nBcc: victim@example.org\r\n\x00\x1b[31m\x85NEL\u2028LS\u2029PS\x7f"


def test_line_breaks_and_controls_hidden_in_headers_are_stored_on_one_clean_line(
    database: Database,
) -> None:
    raw = _raw(
        f"From: {_encoded('Kim' + TRICKS)} <kim@forum.example>\n"
        f"Subject: {_encoded('Re: removed' + TRICKS)}\n"
        "Message-ID: <tricks@forum.example>\n"
        "X-Note: one\rBcc: bare-cr@example.org\n"
    )
    got = _import(database, raw)
    for text in (got.sender, got.subject):
        assert len(text.splitlines()) == 1
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)
        assert "\u2028" not in text
        assert "\u2029" not in text
    assert got.subject.startswith("Re: removed ")
    assert "NEL LS PS" in got.subject
    assert "kim@forum.example" in got.sender


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        pytest.param(
            "Content-Type: text/plain; charset=x-no-such-charset\n",
            "삭제했습니다".encode(),
            "삭제했습니다",
            id="unknown-charset",
        ),
        pytest.param(
            "Content-Type: text/plain; charset=utf-8\n",
            b"removed \xff\xfe done",
            "removed \ufffd\ufffd done",
            id="invalid-utf-8",
        ),
        pytest.param(
            "Content-Type: text/plain; charset=euc-kr\n",
            "삭제 완료".encode("euc-kr"),
            "삭제 완료",
            id="euc-kr",
        ),
        pytest.param(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n",
            b"!!not base64!!",
            "",
            id="broken-base64",
        ),
        pytest.param(
            "Content-Type: text/html; charset=utf-8\n",
            b"<html><body><p>We <b>removed</b> it.</p></body></html>",
            "<p>We <b>removed</b> it.</p>",
            id="html-only",
        ),
        pytest.param("", b"nul\x00in\x00body", "nulinbody", id="nul-bytes"),
        pytest.param(
            "Content-Type: multipart/mixed; boundary=B\n",
            b"--B\r\nContent-Type: text/plain\r\nContent-Disposition: =?utf-8?q?];\xc3\xa9*\r\n"
            b"\r\nx\r\n--B--\r\n",
            "",
            id="bad-disposition",  # the standard library raises IndexError reading it
        ),
    ],
)
def test_bodies_in_any_charset_are_stored_as_text(
    database: Database, headers: str, body: bytes, expected: str
) -> None:
    raw = _raw(
        f"From: a@forum.example\nSubject: re\nMessage-ID: <b@forum.example>\n{headers}", body
    )
    got = _import(database, raw)
    assert got.kind == "reply"
    assert expected in got.body
    assert "\x00" not in got.body


def test_malformed_identifiers_and_addresses_are_kept_as_they_can_be(database: Database) -> None:
    # The standard library raises IndexError on both headers; and a missing Message-ID is
    # replaced by the message's hash, so importing it twice still stores it once.
    raw = _raw("From: =?utf-8?q?<\nMessage-ID: <@\n").replace(
        b"\r\n\r\n", "\r\nSubject: 8-bit 제목 ".encode() + b"\xff\r\n\r\n"
    )
    first, second = _import(database, raw), _import(database, raw)
    assert (first.new, second.new) == (True, False)
    assert first.sender == "=?utf-8?q?<"
    assert first.subject.startswith("8-bit 제목")


def test_a_huge_subject_is_read_within_bounds(database: Database) -> None:
    """The standard parser's memory grows with the square of an encoded-word header: a
    100 KB subject took it some 370 MB, 800 KB over 20 GB. Only the first 8 KB are read."""
    raw = _raw("From: a@forum.example\nSubject: " + "=?utf-8?q?a?= " * 8_000 + "\n")
    tracemalloc.start()
    try:
        got = _import(database, raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.subject.startswith("aaaa")
    assert len(got.subject) <= 1000
    assert peak < 64 * 1024 * 1024
