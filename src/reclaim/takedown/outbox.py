"""The outbox: approved notices become mail, sent once.

An approved notice to an e-mail address gets one outbox row (unique per notice) holding
the message exactly as it goes out, with a Message-ID of its own. A sender claims due rows
(``queued`` -> ``sending``, committed *before* it talks to the server), sends, and records
``sent`` -- or puts the row back ``queued`` with a doubled wait when the server was
unreachable or said "try later", or ``failed`` when it refused or the attempts ran out.

A row found in ``sending`` whose sender is gone (a crash, a kill) is **uncertain**: the
server may or may not have taken the message. Only a person resolves it -- confirming it
went out, or asking for it to be sent again (the same Message-ID, so a recipient can tell
a repeat) -- so a notice is never lost and never sent twice silently.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.cases.roles import APPROVERS, Actor
from reclaim.config import Settings
from reclaim.store.base import utcnow
from reclaim.store.claims import abandoned, worker_id
from reclaim.store.db import Database
from reclaim.takedown import smtp
from reclaim.takedown.models import MailState, Notice, NoticeState, NoticeTarget, OutboxMessage
from reclaim.takedown.workflow import (
    BadTransition,
    CaseWithdrawn,
    NotReady,
    changed_rows,
    check_address,
    check_case,
    escalate_at,
    move,
    one_line,
    reference,
)

LEASE = timedelta(minutes=30)
"""A ``sending`` claim by another machine older than this is taken to be abandoned."""


@dataclass
class SendTally:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)


def enqueue(session: Session, *, notice: Notice, settings: Settings) -> OutboxMessage:
    """Put an approved notice's mail in the outbox (once: a second call returns the row)."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.notice_id == notice.id))
    if existing is not None:
        return existing
    if notice.state is not NoticeState.APPROVED:
        raise BadTransition(f"notice {reference(notice)} is {notice.state.value}, not approved")
    if notice.recipient is None:
        raise NotReady(f"notice {reference(notice)} goes through a web form, not by mail")
    org = session.get(Organisation, notice.org_id)
    assert org is not None
    message_id, raw = build_message(notice, org, settings)
    row = OutboxMessage(
        notice_id=notice.id,
        message_id=message_id,
        sender=settings.mail_from,
        recipient=notice.recipient,
        message=raw,
        next_attempt=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def build_message(notice: Notice, org: Organisation, settings: Settings) -> tuple[str, bytes]:
    """The notice as an RFC 5322 message (text and HTML), and its Message-ID."""
    domain = settings.mail_from.rpartition("@")[2] or "localhost"
    message_id = f"<notice.{notice.id}.{secrets.token_hex(8)}@{domain}>"
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(
        one_line(org.name, 100), addr_spec=check_address(settings.mail_from, dotted=False)
    )
    message["To"] = check_address(notice.recipient or "")
    if org.contact_email:
        message["Reply-To"] = check_address(org.contact_email)
    message["Subject"] = one_line(notice.subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    message["Content-Language"] = notice.language
    message["X-Reclaim-Notice"] = reference(notice)
    message.set_content(notice.body_text, cte="quoted-printable")
    message.add_alternative(notice.body_html, subtype="html", cte="quoted-printable")
    return message_id, message.as_bytes()


def send_due(
    database: Database, settings: Settings, *, limit: int = 100, now: datetime | None = None
) -> SendTally:
    """Send what is due in the outbox (after marking abandoned sends uncertain)."""
    tally = SendTally()
    with database.session() as session:
        tally.uncertain += recover(session, now=now or utcnow())
    config = smtp.SmtpConfig.from_settings(settings)
    owner = f"{worker_id()}/{secrets.token_hex(4)}"
    for _ in range(limit):
        claimed = _claim(database, owner, now)
        if claimed is None:
            break
        row_id, sender, recipient, raw = claimed
        try:
            reply = smtp.send(config, sender=sender, recipient=recipient, message=raw)
        except smtp.SendUncertain as error:
            _uncertain(database, row_id, str(error))
            tally.uncertain += 1
            tally.errors.append(str(error))
        except smtp.SendFailed as error:
            if _failed(database, settings, row_id, error, now or utcnow()):
                tally.retried += 1
            else:
                tally.failed += 1
            tally.errors.append(str(error))
        else:
            _sent(database, settings, row_id, reply)
            tally.sent += 1
    return tally


def _claim(
    database: Database, owner: str, now: datetime | None
) -> tuple[int, str, str, bytes] | None:
    """Take one due row (committed as ``sending`` before anything is sent)."""
    with database.session() as session:
        moment = now or utcnow()
        candidates = session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.state == MailState.QUEUED, OutboxMessage.next_attempt <= moment)
            .order_by(OutboxMessage.next_attempt, OutboxMessage.id)
            .limit(5)
        ).all()
        for row_id in candidates:
            taken = changed_rows(
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row_id, OutboxMessage.state == MailState.QUEUED)
                    .values(
                        state=MailState.SENDING,
                        claimed_by=owner,
                        claimed_at=utcnow(),
                        attempts=OutboxMessage.attempts + 1,
                    )
                )
            )
            if taken == 1:
                row = session.get(OutboxMessage, row_id)
                assert row is not None
                notice = session.get(Notice, row.notice_id)
                assert notice is not None
                if notice.state is not NoticeState.APPROVED:  # cancelled meanwhile
                    row.state, row.last_error = MailState.FAILED, f"notice is {notice.state.value}"
                    continue
                try:
                    check_case(session, notice.case_id)
                except CaseWithdrawn as error:  # she withdrew after the approval
                    move(session, notice, NoticeState.CANCELLED, actor="outbox", reason=str(error))
                    row.state, row.last_error = MailState.FAILED, str(error)
                    continue
                return row.id, row.sender, row.recipient, row.message
        return None


def _sent(database: Database, settings: Settings, row_id: int, reply: str) -> None:
    with database.session() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        row.state, row.sent_at, row.server_reply = MailState.SENT, utcnow(), reply
        row.claimed_by = None
        notice = session.get(Notice, row.notice_id)
        assert notice is not None
        record_sent(session, notice=notice, actor="outbox", settings=settings)


def record_sent(session: Session, *, notice: Notice, actor: str, settings: Settings) -> None:
    """The notice reached its recipient (mail accepted, or a person submitted the form):
    start the clock for escalation and the re-checks of its URLs."""
    move(session, notice, NoticeState.SENT, actor=actor)
    notice.escalate_after = escalate_at(notice, settings)
    first = (notice.sent_at or utcnow()) + timedelta(hours=settings.takedown_recheck_hours)
    session.execute(
        update(NoticeTarget).where(NoticeTarget.notice_id == notice.id).values(next_check=first)
    )
    session.flush()


def _failed(
    database: Database, settings: Settings, row_id: int, error: smtp.SendFailed, now: datetime
) -> bool:
    """Record a failed attempt; True when it will be tried again."""
    with database.session() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        row.last_error, row.claimed_by = str(error)[:2000], None
        if error.temporary and row.attempts < settings.takedown_send_attempts:
            wait = settings.takedown_retry_seconds * 2 ** (row.attempts - 1)
            row.state, row.next_attempt = MailState.QUEUED, now + timedelta(seconds=wait)
            return True
        row.state = MailState.FAILED
        return False


def _uncertain(database: Database, row_id: int, why: str) -> None:
    with database.session() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        row.state, row.last_error, row.claimed_by = MailState.UNCERTAIN, why[:2000], None


def recover(session: Session, *, now: datetime, alive: set[str] | None = None) -> int:
    """Mark sends whose sender is gone as uncertain; how many."""
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.state == MailState.SENDING)
    ).all()
    count = 0
    for row in rows:
        if abandoned(row.claimed_by, row.claimed_at, now=now, lease=LEASE, alive=alive):
            row.state = MailState.UNCERTAIN
            row.last_error = (
                f"the sender ({row.claimed_by}) stopped while sending: the server may or may "
                "not have accepted the message; a person must confirm or resend"
            )
            row.claimed_by = None
            count += 1
    session.flush()
    return count


def confirm_sent(session: Session, *, row: OutboxMessage, actor: Actor, settings: Settings) -> None:
    """A person found that an uncertain (or failed) message did reach the recipient."""
    actor.require(APPROVERS, "confirm that a notice was sent")
    if row.state not in (MailState.UNCERTAIN, MailState.FAILED):
        raise BadTransition(f"the mail is {row.state.value}: nothing to confirm")
    row.state, row.sent_at = MailState.SENT, utcnow()
    row.server_reply = f"confirmed by {actor.name}"
    notice = session.get(Notice, row.notice_id)
    assert notice is not None
    record_sent(session, notice=notice, actor=actor.name, settings=settings)


def resend(session: Session, *, row: OutboxMessage, actor: Actor) -> None:
    """A person asks for an uncertain or failed message to go out again (same Message-ID).
    A bounced one is not resent: the address is wrong, and escalation takes over."""
    actor.require(APPROVERS, "resend a notice")
    if row.state not in (MailState.UNCERTAIN, MailState.FAILED):
        raise BadTransition(f"the mail is {row.state.value}: it is not waiting for a person")
    notice = session.get(Notice, row.notice_id)
    assert notice is not None
    check_case(session, notice.case_id)
    if notice.state is not NoticeState.APPROVED:
        raise BadTransition(f"notice {reference(notice)} is {notice.state.value}")
    row.state, row.next_attempt, row.last_error = MailState.QUEUED, utcnow(), None
    row.server_reply = f"resend asked by {actor.name}"
    session.flush()
