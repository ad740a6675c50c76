"""Answers to notices: replies, automatic answers and bounces, imported from mail files.

A message is tied to its notice by the Message-ID it answers (``In-Reply-To``,
``References``, or -- for a bounce -- the headers of the returned message inside it), or
by the ``X-Reclaim-Notice`` reference. Nothing here ever answers mail, so a bounce loop
cannot start: the same message imported twice is stored once, a bounce marks the mail
``bounced`` (never resent by itself) and lets the notice escalate at once, and a reply or
an automatic acknowledgement moves a sent notice to *acknowledged*.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import default

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.store.base import utcnow
from reclaim.takedown.models import MailState, Notice, NoticeState, OutboxMessage, Reply
from reclaim.takedown.workflow import TakedownError, move

MAX_MESSAGE = 10 * 1024 * 1024
MAX_BODY = 64 * 1024
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_REFERENCE = re.compile(r"RCL-(\d+)-(\d{6,})")


class BadMessage(TakedownError):
    """Not a mail message Reclaim can read."""


@dataclass(frozen=True, slots=True)
class Imported:
    reply: Reply
    new: bool
    """False when this message had been imported before."""


def import_message(session: Session, *, org: Organisation, raw: bytes) -> Imported:
    """Store one received message (RFC 5322 bytes) and act on it."""
    if len(raw) > MAX_MESSAGE:
        raise BadMessage(f"the message is over {MAX_MESSAGE // (1024 * 1024)} MB")
    if not raw.strip():
        raise BadMessage("the message is empty")
    message = message_from_bytes(raw, policy=default)
    if not isinstance(message, EmailMessage) or not (
        message.get("From") or message.get("Message-ID")
    ):
        raise BadMessage("no mail headers found")
    digest = hashlib.sha256(raw).hexdigest()
    message_id = _first_id(str(message.get("Message-ID", ""))) or f"<sha256.{digest}@imported>"
    existing = session.scalar(
        select(Reply).where(Reply.org_id == org.id, Reply.message_id == message_id)
    )
    if existing is not None:
        return Imported(existing, False)
    kind = _kind(message)
    mail = _find_mail(session, org, message, bounced=kind == "bounce")
    notice = (
        session.get(Notice, mail.notice_id)
        if mail is not None
        else _by_reference(session, org, message)
    )
    reply = Reply(
        org_id=org.id,
        notice_id=notice.id if notice is not None else None,
        message_id=message_id,
        kind=kind,
        sender=_clean(str(message.get("From", "")))[:320],
        subject=_clean(str(message.get("Subject", "")))[:1000],
        body=_text(message)[:MAX_BODY],
        sha256=digest,
        received=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(reply)
    except IntegrityError:  # imported at the same moment elsewhere
        again = session.scalar(
            select(Reply).where(Reply.org_id == org.id, Reply.message_id == message_id)
        )
        assert again is not None
        return Imported(again, False)
    if notice is not None:
        _act(session, notice, mail, kind)
    return Imported(reply, True)


def _kind(message: EmailMessage) -> str:
    content = message.get_content_type()
    report = str(message.get_param("report-type", "") or "").lower()
    sender = str(message.get("From", "")).lower()
    if content == "multipart/report" and report == "delivery-status":
        return "bounce"
    if "mailer-daemon" in sender or sender.startswith("postmaster"):
        return "bounce"
    auto = str(message.get("Auto-Submitted", "no")).lower()
    if auto != "no" or message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "auto"
    return "reply"


def _find_mail(
    session: Session, org: Organisation, message: EmailMessage, *, bounced: bool
) -> OutboxMessage | None:
    ids = _ids(message, ("In-Reply-To", "References"))
    if bounced:
        for part in message.walk():
            if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
                ids += _MESSAGE_ID.findall(_returned_headers(part))
    if not ids:
        return None
    rows = session.scalars(
        select(OutboxMessage)
        .join(Notice, Notice.id == OutboxMessage.notice_id)
        .where(OutboxMessage.message_id.in_(ids), Notice.org_id == org.id)
    ).all()
    return rows[0] if rows else None


def _returned_headers(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        inner = payload[0]
        return str(inner.get("Message-ID", "")) if isinstance(inner, Message) else ""
    if isinstance(payload, str):
        found = re.search(r"(?im)^message-id:\s*(<[^>]+>)", payload)
        return found.group(1) if found else ""
    return ""


def _by_reference(session: Session, org: Organisation, message: EmailMessage) -> Notice | None:
    text = f"{message.get('X-Reclaim-Notice', '')} {message.get('Subject', '')}"
    found = _REFERENCE.search(text)
    if found is None or int(found.group(1)) != org.id:
        return None
    notice = session.get(Notice, int(found.group(2)))
    return notice if notice is not None and notice.org_id == org.id else None


def _act(session: Session, notice: Notice, mail: OutboxMessage | None, kind: str) -> None:
    if kind == "bounce":
        if mail is not None and mail.state is not MailState.BOUNCED:
            mail.state = MailState.BOUNCED
            mail.last_error = "bounced: the recipient's server returned the notice"
        if notice.escalate_after is not None:
            notice.escalate_after = utcnow()  # nobody got it: move on to the next channel
        return
    if notice.state in (NoticeState.SENT, NoticeState.NO_ANSWER):
        move(session, notice, NoticeState.ACKNOWLEDGED, actor=f"mail ({kind})")


def _ids(message: EmailMessage, headers: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for header in headers:
        for value in message.get_all(header, []) or []:
            found += _MESSAGE_ID.findall(str(value))
    return found[:50]


def _first_id(value: str) -> str | None:
    found = _MESSAGE_ID.search(value)
    return found.group(0) if found else None


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return ""
    return content if isinstance(content, str) else ""


def _clean(value: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()
