"""Content-free notifications: "there is news on your case" -- never what, where, or an
image.

A survivor may leave an e-mail address when she registers. It is stored only encrypted
under the master key (bound to her case), used for nothing else, and deleted when she
withdraws. When her timeline gains news she would want to know of (copies found,
requests sent, removals, a re-upload caught, a legal hold), she gets one short message in
her language, at most once a day, that says only that there is news and where to sign in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.cases.models import Case, CaseEventRow, CaseStatus
from reclaim.config import Settings
from reclaim.store.base import Base, UtcDateTime, utcnow
from reclaim.store.db import Database
from reclaim.store.envelope import KeyProblem, MasterKey
from reclaim.takedown import smtp
from reclaim.takedown.workflow import check_address

log = logging.getLogger(__name__)
NEWS = frozenset(
    {"sighting.found", "takedown.changed", "takedown.reupload", "hold.placed", "data.destroyed"}
)
"""Timeline events that are news to her (a takedown change counts once sent)."""
QUIET = timedelta(hours=24)
TEXT = {
    "ko": (
        "리클레임: 사건에 새 소식이 있습니다",
        "사건에 새 소식이 있습니다. 사건 번호와 비밀문구로 로그인해서 확인하세요: {url}\n\n"
        "이 메일에는 다른 내용이 없습니다. 더 이상 알림을 받고 싶지 않으시면 사건 페이지에서 "
        "철회하시거나 지원센터에 알려 주세요.\n",
    ),
    "en": (
        "Reclaim: there is news on your case",
        "There is news on your case. Sign in with your case number and passphrase to see "
        "it: {url}\n\nThis message says nothing more. To stop these messages, withdraw on "
        "your case page or tell your support centre.\n",
    ),
}


class CaseContact(Base):
    """Where to tell her there is news: encrypted, used for nothing else."""

    __tablename__ = "case_contacts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8))
    seen_seq: Mapped[int] = mapped_column(Integer, default=0)
    """Timeline events up to this one were told (or were not news)."""
    last_sent: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


def _purpose(case_id: int) -> str:
    return f"case-contact:{case_id}"


def set_contact(
    session: Session, *, case: Case, address: str, language: str, master: MasterKey
) -> None:
    """Keep her address, encrypted (``NotReady`` for something that is not one)."""
    address = check_address(address)
    row = session.get(CaseContact, case.id) or CaseContact(case_id=case.id, seen_seq=0)
    row.sealed = master.wrap(address.encode(), _purpose(case.id))
    row.language = language if language in TEXT else "en"
    row.seen_seq = max(row.seen_seq or 0, _last_seq(session, case.id))
    session.merge(row)
    session.flush()


def forget_contact(session: Session, *, case_id: int) -> None:
    """Delete her address (when she withdraws)."""
    row = session.get(CaseContact, case_id)
    if row is not None:
        session.delete(row)
        session.flush()


def notify_due(
    database: Database, settings: Settings, master: MasterKey, *, now: datetime | None = None
) -> int:
    """Tell every case with news and a contact (not within a day of the last message);
    how many were told. Without an SMTP server nothing is sent and nothing is marked."""
    moment = now or utcnow()
    config = smtp.SmtpConfig.from_settings(settings)
    sent = 0
    with database.session() as session:
        due = [
            (row.case_id, row.seen_seq)
            for row in session.scalars(select(CaseContact))
            if row.last_sent is None or row.last_sent + QUIET <= moment
        ]
    for case_id, seen in due:
        with database.session() as session:
            row = session.get(CaseContact, case_id)
            case = session.get(Case, case_id)
            if row is None or case is None or case.status is CaseStatus.WITHDRAWN:
                continue
            latest = _last_seq(session, case_id)
            if not _news(session, case_id, seen, latest):
                row.seen_seq = latest
                continue
            try:
                address = master.unwrap(row.sealed, _purpose(case_id)).decode()
            except KeyProblem:
                log.warning("a case's contact cannot be read (master key changed?)")
                continue
            message = _message(settings, address, row.language)
        try:
            smtp.send(config, sender=settings.mail_from, recipient=address, message=message)
        except (smtp.SendFailed, smtp.SendUncertain) as error:
            log.warning("a news message was not sent: %s", error)
            continue  # tried again next time: nothing was marked
        with database.session() as session:
            row = session.get(CaseContact, case_id)
            if row is not None:
                row.seen_seq, row.last_sent = latest, moment
        sent += 1
    return sent


def _last_seq(session: Session, case_id: int) -> int:
    return int(
        session.scalar(select(func.max(CaseEventRow.seq)).where(CaseEventRow.case_id == case_id))
        or 0
    )


def _news(session: Session, case_id: int, after: int, upto: int) -> bool:
    rows = session.scalars(
        select(CaseEventRow).where(
            CaseEventRow.case_id == case_id, CaseEventRow.seq > after, CaseEventRow.seq <= upto
        )
    )
    for row in rows:
        if row.name not in NEWS:
            continue
        if row.name != "takedown.changed" or row.data.get("state") in ("sent", "removed"):
            return True
    return False


def _message(settings: Settings, address: str, language: str) -> bytes:
    subject, body = TEXT.get(language, TEXT["en"])
    message = EmailMessage(policy=SMTP)
    message["From"] = check_address(settings.mail_from, dotted=False)
    message["To"] = address
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body.format(url=settings.portal_url), cte="quoted-printable")
    return message.as_bytes()
