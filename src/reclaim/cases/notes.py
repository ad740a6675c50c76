"""Staff notes on a case: for the desk only, never shown to the survivor or sent anywhere."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.cases.models import Case
from reclaim.store.base import Base, UtcDateTime, utcnow

MAX_NOTE = 10_000


class CaseNote(Base):
    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def add_note(session: Session, *, case: Case, author: str, text: str) -> CaseNote:
    body = text.replace("\r\n", "\n").strip()
    if not body:
        raise ValueError("a note needs some text")
    if len(body) > MAX_NOTE:
        raise ValueError(f"a note has at most {MAX_NOTE} characters")
    note = CaseNote(case_id=case.id, author=author, text=body)
    session.add(note)
    session.flush()
    return note


def case_notes(session: Session, *, case: Case) -> list[CaseNote]:
    return list(
        session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id))
    )


def delete_case_notes(session: Session, *, case: Case) -> int:
    """Delete the desk's notes on ``case`` (she withdrew); how many."""
    result = session.execute(delete(CaseNote).where(CaseNote.case_id == case.id))
    return int(getattr(result, "rowcount", 0) or 0)
