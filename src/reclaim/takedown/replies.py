"""Answers to notices: replies, automatic answers and bounces, imported from mail files.

A reply or an automatic answer is tied to its notice by the Message-ID it answers
(``In-Reply-To``, ``References``) or by the notice's reference (``X-Reclaim-Notice``, or
``RCL-<org>-<id>`` in the subject). A bounce -- a delivery report saying the mail
*failed* -- is tied only by the Message-ID of the returned mail inside it (64 random bits,
where a reference is easy to guess or to find quoted in someone else's subject), and never
by a mail returned inside that returned mail (a bounce of a bounce is not about a notice).
A delivery report that fails nothing (``delayed``, ``delivered``) is kept as ``status``.

Nothing here ever answers mail, so a bounce loop cannot start: the same message imported
twice is stored once, a bounce marks the mail ``bounced`` (never resent by itself) and lets
the notice escalate at once, and a reply or an automatic acknowledgement moves a sent
notice to *acknowledged*. A copy of a notice itself (a mailbox with the sent mail in it)
acts on nothing.

Received mail is hostile input: the message, each header read and the MIME parts are
bounded before the standard parser sees them (its cost grows much faster than their size),
what it raises on malformed input becomes :class:`BadMessage`, and text is stored on one
line (headers) or without NULs (bodies), in any charset, declared or not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from email import message_from_bytes
from email.errors import MessageError
from email.message import EmailMessage, Message
from email.policy import default

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.store.base import utcnow
from reclaim.takedown.models import MailState, Notice, NoticeState, OutboxMessage, Reply
from reclaim.takedown.workflow import BadTransition, TakedownError, move

MAX_MESSAGE = 10 * 1024 * 1024
MAX_BODY = 64 * 1024
MAX_HEADER = 8 * 1024
"""Characters of a header value read. The standard parser's cost grows much faster than a
value: a 400 KB subject of encoded words takes it gigabytes."""
MAX_PARTS = 1000
"""Lines that may open a MIME part (``--``). Parsing costs some 0.3 ms a part: a 10 MB
message of empty parts would take minutes."""
MAX_CONTAINERS = 100
"""Multipart and message parts, each holding more parts: the parser recurses into each, so
their depth is bounded here rather than by how much stack is left."""
_CONTAINER = re.compile(rb"(?im)^content-type:\s*(?:multipart|message)/")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_REFERENCE = re.compile(r"\bRCL-(\d{1,18})-(\d{6,18})\b")
_ACTION = re.compile(r"(?im)^action:\s*([a-z-]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
"""C0 and C1 controls (NEL among them), DEL and the Unicode line and paragraph separators:
everything that could break a header or a one-line display."""
_RETURNED = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers"}
)
_STATUS = frozenset({"message/delivery-status", "message/global-delivery-status"})
_PARSER_ERRORS = (LookupError, AttributeError, TypeError, ValueError, RecursionError, MessageError)
"""What the standard library's mail parser raises on some malformed input: an IndexError
in a Message-ID or address, a TypeError in a parameter, recursion in deeply nested parts."""


class BadMessage(TakedownError):
    """Not a mail message Reclaim can read."""


@dataclass(frozen=True, slots=True)
class Imported:
    reply: Reply
    new: bool
    """False when this message had been imported before."""


def import_message(session: Session, *, org: Organisation, raw: bytes) -> Imported:
    """Store one received message (RFC 5322 bytes) and act on it."""
    message = _parse(raw)
    digest = hashlib.sha256(raw).hexdigest()
    message_id = _first_id(_raw(message, "Message-ID")) or f"<sha256.{digest}@imported>"
    existing = session.scalar(
        select(Reply).where(Reply.org_id == org.id, Reply.message_id == message_id)
    )
    if existing is not None:
        return Imported(existing, False)
    try:
        kind = _kind(message)
    except _PARSER_ERRORS as error:
        raise BadMessage(f"the message cannot be read ({type(error).__name__})") from None
    mail, notice = None, None
    if _mail_with_ids(session, org, [message_id]) is None:  # not a copy of a notice itself
        mail = _find_mail(session, org, message, kind=kind)
        if mail is not None:
            notice = session.get(Notice, mail.notice_id)
        elif kind in ("reply", "auto"):
            notice = _by_reference(session, org, message)
    reply = Reply(
        org_id=org.id,
        notice_id=notice.id if notice is not None else None,
        message_id=message_id,
        kind=kind,
        sender=_decoded(message, "From")[:320],
        subject=_decoded(message, "Subject")[:1000],
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


def _parse(raw: bytes) -> EmailMessage:
    if len(raw) > MAX_MESSAGE:
        raise BadMessage(f"the message is over {MAX_MESSAGE // (1024 * 1024)} MB")
    if not raw.strip():
        raise BadMessage("the message is empty")
    if raw.count(b"\n--") > MAX_PARTS:
        raise BadMessage(f"the message has over {MAX_PARTS} MIME parts")
    if len(_CONTAINER.findall(raw)) > MAX_CONTAINERS:
        raise BadMessage(f"the message nests over {MAX_CONTAINERS} parts within parts")
    try:
        message = message_from_bytes(raw, policy=default)
    except _PARSER_ERRORS as error:
        raise BadMessage(f"the message cannot be parsed ({type(error).__name__})") from None
    if not isinstance(message, EmailMessage) or not (
        _raw(message, "From") or _raw(message, "Message-ID")
    ):
        raise BadMessage("no mail headers found")
    return message


def _kind(message: EmailMessage) -> str:
    """``bounce``, ``status`` (a delivery report that fails nothing), ``auto`` or ``reply``."""
    report = str(message.get_param("report-type", "") or "").lower()
    if message.get_content_type() == "multipart/report" and report == "delivery-status":
        actions = {a.lower() for p in _parts(message, _STATUS) for a in _ACTION.findall(_flat(p))}
        return "status" if actions and "failed" not in actions else "bounce"
    sender = _decoded(message, "From").lower()
    if "mailer-daemon" in sender or sender.startswith("postmaster"):
        return "bounce"
    auto = _raw(message, "Auto-Submitted").strip().lower() or "no"
    if auto != "no" or _raw(message, "X-Autoreply") or _raw(message, "X-Autorespond"):
        return "auto"
    return "reply"


def _find_mail(
    session: Session, org: Organisation, message: EmailMessage, *, kind: str
) -> OutboxMessage | None:
    ids = _ids(message, ("In-Reply-To", "References"))
    if kind in ("bounce", "status"):
        for part in _parts(message, _RETURNED):
            ids += _MESSAGE_ID.findall(_returned_id(part))
    return _mail_with_ids(session, org, ids[:50])


def _mail_with_ids(session: Session, org: Organisation, ids: list[str]) -> OutboxMessage | None:
    if not ids:
        return None
    rows = session.scalars(
        select(OutboxMessage)
        .join(Notice, Notice.id == OutboxMessage.notice_id)
        .where(OutboxMessage.message_id.in_(ids), Notice.org_id == org.id)
    ).all()
    return rows[0] if rows else None


def _parts(message: Message, types: frozenset[str]) -> Iterator[Message]:
    """The parts of ``types`` in the message itself -- not inside a mail it returns."""
    stack: list[Message] = [message]
    while stack:
        part = stack.pop()
        content = part.get_content_type()
        if content in types:
            yield part
        elif content not in _RETURNED and part.is_multipart():
            payload = part.get_payload()
            inner = payload if isinstance(payload, list) else []
            stack.extend(p for p in reversed(inner) if isinstance(p, Message))


def _returned_id(part: Message) -> str:
    """The Message-ID of the mail a bounce returns (in full, or its headers only)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        inner = payload[0]
        return _raw(inner, "Message-ID") if isinstance(inner, Message) else ""
    if isinstance(payload, str):
        found = re.search(r"(?im)^message-id:\s*(<[^>\r\n]{1,250}>)", payload[:MAX_BODY])
        return found.group(1) if found else ""
    return ""


def _flat(part: Message) -> str:
    """A delivery-status part as text (the parser reads each group of fields as a message)."""
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload[:MAX_BODY]
    lines: list[str] = []
    for block in payload if isinstance(payload, list) else []:
        if isinstance(block, Message):
            lines += [f"{name}: {value}" for name, value in block.raw_items()]
    return "\n".join(lines)


def _by_reference(session: Session, org: Organisation, message: EmailMessage) -> Notice | None:
    text = f"{_raw(message, 'X-Reclaim-Notice')} {_decoded(message, 'Subject')}"
    for found in _REFERENCE.finditer(text):
        if int(found.group(1)) != org.id:
            continue  # another organisation's notice
        notice = session.get(Notice, int(found.group(2)))
        if notice is not None and notice.org_id == org.id:
            return notice
    return None


def _act(session: Session, notice: Notice, mail: OutboxMessage | None, kind: str) -> None:
    if kind == "bounce":
        if mail is not None and mail.state is not MailState.BOUNCED:
            mail.state = MailState.BOUNCED
            mail.last_error = "bounced: the recipient's server returned the notice"
        if notice.escalate_after is not None:
            notice.escalate_after = utcnow()  # nobody got it: move on to the next channel
        return
    if kind in ("reply", "auto") and notice.state in (NoticeState.SENT, NoticeState.NO_ANSWER):
        with suppress(BadTransition):  # someone moved it meanwhile: the answer is kept
            move(session, notice, NoticeState.ACKNOWLEDGED, actor=f"mail ({kind})")


def _raw(message: Message, name: str) -> str:
    """The first ``name`` header as it came (unparsed), at most :data:`MAX_HEADER` long."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)[:MAX_HEADER]
    return ""


def _decoded(message: Message, name: str) -> str:
    """The first ``name`` header decoded (encoded words, 8-bit UTF-8), on one clean line."""
    raw = _raw(message, name)
    try:
        value = str(message.policy.header_fetch_parse(name, raw)) if raw else ""
    except _PARSER_ERRORS:
        value = raw
    return _clean(value)


def _ids(message: Message, headers: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for header in headers:
        found += _MESSAGE_ID.findall(_raw(message, header))
    return found[:50]


def _first_id(value: str) -> str | None:
    found = _MESSAGE_ID.search(value)
    return _clean(found.group(0)) if found else None


def _text(message: EmailMessage) -> str:
    """The plain text of the message (else its HTML), in whatever charset it claims."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except _PARSER_ERRORS:
        return ""
    if part is None:
        return ""
    try:
        content = part.get_content()
    except LookupError:  # a charset Python does not know: read it as UTF-8
        data = part.get_payload(decode=True)
        content = data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
    except _PARSER_ERRORS:
        return ""
    if not isinstance(content, str):
        return ""
    return _unescape(content).replace("\x00", "")


def _clean(value: str) -> str:
    return _CONTROL.sub(" ", _unescape(value)).strip()


def _unescape(value: str) -> str:
    """Bytes the parser could not decode (kept as lone surrogates) read as UTF-8."""
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte: replaced
        data = value.encode("utf-8", "replace")
    return data.decode("utf-8", "replace")
