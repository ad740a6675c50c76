"""A notice's life: drafted -> approved -> sent -> acknowledged -> removed, partially
removed, refused or no answer -> escalated; or rejected, or cancelled before it went out.

Every change goes through :func:`move`, which allows only the transitions in
:data:`TRANSITIONS`, changes the row with a conditional ``UPDATE`` (so two people acting at
once cannot both move it), and records the change on the case timeline and in the
organisation's custody log. Approval needs a person whose role may approve, and -- when
the settings ask for two -- a second, different person; an edit raises the notice's version,
and approvals of an earlier version no longer count.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reclaim.cases.events import TakedownChanged
from reclaim.cases.models import Case, CaseStatus, Organisation
from reclaim.cases.roles import APPROVERS, Actor, Role
from reclaim.cases.service import record_event
from reclaim.config import Settings
from reclaim.evidence import custody
from reclaim.store.base import utcnow
from reclaim.takedown.models import Approval, Notice, NoticeState

S = NoticeState
TRANSITIONS: dict[NoticeState, frozenset[NoticeState]] = {
    S.DRAFTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.REJECTED: frozenset({S.DRAFTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SENT, S.CANCELLED}),
    S.SENT: frozenset(
        {S.ACKNOWLEDGED, S.REMOVED, S.PARTIALLY_REMOVED, S.REFUSED, S.NO_ANSWER, S.ESCALATED}
    ),
    S.ACKNOWLEDGED: frozenset(
        {S.REMOVED, S.PARTIALLY_REMOVED, S.REFUSED, S.NO_ANSWER, S.ESCALATED}
    ),
    S.PARTIALLY_REMOVED: frozenset({S.REMOVED, S.REFUSED, S.ESCALATED}),
    S.NO_ANSWER: frozenset({S.ACKNOWLEDGED, S.REMOVED, S.PARTIALLY_REMOVED, S.ESCALATED}),
    S.REFUSED: frozenset({S.REMOVED, S.PARTIALLY_REMOVED, S.ESCALATED}),
    S.REMOVED: frozenset(),
    S.ESCALATED: frozenset({S.REMOVED}),
    S.CANCELLED: frozenset(),
}
OPEN = frozenset({S.DRAFTED, S.APPROVED, S.SENT, S.ACKNOWLEDGED, S.PARTIALLY_REMOVED, S.NO_ANSWER})
"""States in which a notice is still working on its URLs (no second notice on the same
channel is drafted for them meanwhile)."""
OUT = frozenset(
    {S.SENT, S.ACKNOWLEDGED, S.PARTIALLY_REMOVED, S.NO_ANSWER, S.REFUSED, S.ESCALATED, S.REMOVED}
)
"""States of a notice that reached its recipient: its URLs are re-checked."""
RESOLVED = frozenset({S.REMOVED, S.PARTIALLY_REMOVED, S.REFUSED, S.NO_ANSWER})
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


class TakedownError(Exception):
    """A takedown action that cannot be done (the message says why)."""


class BadTransition(TakedownError):
    """The notice is not in a state that allows this (or someone else moved it first)."""


class NotReady(TakedownError):
    """The notice lacks something it needs first (a recipient, say)."""


class CaseWithdrawn(TakedownError):
    """The survivor withdrew: nothing more is drafted or sent for her case."""


@dataclass(frozen=True, slots=True)
class Approved:
    notice: Notice
    approvals: int
    needed: int
    complete: bool
    """This approval completed the notice (it is now approved)."""


def reference(notice: Notice) -> str:
    """The notice's reference as recipients see it (never the survivor's case number)."""
    return f"RCL-{notice.org_id}-{notice.id:06d}"


def one_line(text: str, limit: int = 200) -> str:
    """``text`` as one header-safe line: control characters and line breaks become
    spaces, at most ``limit`` characters."""
    return _CONTROL.sub(" ", text).strip()[:limit]


def move(
    session: Session,
    notice: Notice,
    to: NoticeState,
    *,
    actor: str,
    reason: str | None = None,
    when: datetime | None = None,
) -> None:
    """Move ``notice`` to ``to`` if that transition is allowed and nobody moved it first;
    record the change on the case timeline and in the custody log."""
    now = when or utcnow()
    before = notice.state
    if to not in TRANSITIONS[before]:
        raise BadTransition(
            f"notice {reference(notice)} is {before.value}: cannot become {to.value}"
        )
    values: dict[str, object] = {"state": to, "changed": now}
    if reason is not None:
        values["reason"] = reason
    if to is S.SENT:
        values["sent_at"] = now
    elif to is S.ACKNOWLEDGED:
        values["acknowledged_at"] = now
    elif to in RESOLVED:
        values["resolved_at"] = now
        if to is S.REFUSED and notice.acknowledged_at is None:
            values["acknowledged_at"] = now  # a refusal is an answer too
    moved = changed_rows(
        session.execute(
            update(Notice)
            .where(Notice.id == notice.id, Notice.state == before, Notice.version == notice.version)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )
    if moved != 1:
        session.refresh(notice)
        raise BadTransition(
            f"notice {reference(notice)} changed meanwhile (now {notice.state.value})"
        )
    session.refresh(notice)
    _record(session, notice, before=before, actor=actor, when=now)


def _record(
    session: Session, notice: Notice, *, before: NoticeState | None, actor: str, when: datetime
) -> None:
    org = session.get(Organisation, notice.org_id)
    assert org is not None
    case = session.get(Case, notice.case_id) if notice.case_id is not None else None
    details: dict[str, object] = {
        "notice": reference(notice),
        "channel": notice.channel,
        "site": notice.domain,
        "state": notice.state.value,
        "from": before.value if before is not None else None,
        "version": notice.version,
    }
    if case is not None:
        details["case"] = case.number
    if notice.state is S.SENT or before is None:
        text = f"{notice.subject}\n\n{notice.body_text}".encode()
        details["text_sha256"] = hashlib.sha256(text).hexdigest()
    if notice.reason and notice.state in (S.REJECTED, S.REFUSED, S.CANCELLED):
        details["reason"] = notice.reason[:500]
    custody.append(session, org=org, event="notice", actor=actor, details=details, when=when)
    if case is not None:
        event = TakedownChanged(
            actor=actor,
            created=when,
            notice=notice.id,
            channel=notice.channel,
            site=notice.domain,
            state=notice.state.value,
        )
        record_event(session, case=case, event=event)


def changed_rows(result: object) -> int:
    """Rows an ``UPDATE`` changed (its ``rowcount``)."""
    return int(cast("CursorResult[Any]", result).rowcount)


def drafted(session: Session, notice: Notice, *, actor: str) -> None:
    """Record a new notice (call after inserting it, in the same transaction)."""
    _record(session, notice, before=None, actor=actor, when=notice.created)


def check_case(session: Session, case_id: int | None) -> Case | None:
    """The notice's case, refusing a withdrawn one."""
    if case_id is None:
        return None
    case = session.get(Case, case_id)
    if case is None or case.status is CaseStatus.WITHDRAWN:
        raise CaseWithdrawn("the case was withdrawn: no notice is drafted, approved or sent for it")
    return case


def approve(session: Session, *, notice: Notice, actor: Actor, settings: Settings) -> Approved:
    """Record ``actor``'s approval of the notice's current version; the last approval
    needed moves it to approved. The same person cannot count twice."""
    actor.require(APPROVERS, "approve notices")
    check_case(session, notice.case_id)
    if notice.state is not S.DRAFTED:
        raise BadTransition(f"notice {reference(notice)} is {notice.state.value}, not drafted")
    if not (notice.recipient or notice.form_url):
        raise NotReady(f"notice {reference(notice)} has no recipient: set one before approving")
    try:
        with session.begin_nested():
            session.add(
                Approval(
                    notice_id=notice.id,
                    version=notice.version,
                    approver=actor.name,
                    role=actor.role.value,
                )
            )
    except IntegrityError:
        raise BadTransition(
            f"{actor.name} already approved this version of {reference(notice)}"
        ) from None
    count = session.scalar(
        select(func.count())
        .select_from(Approval)
        .where(Approval.notice_id == notice.id, Approval.version == notice.version)
    )
    needed = settings.takedown_approvals
    complete = bool(count and count >= needed)
    if complete:
        move(session, notice, S.APPROVED, actor=actor.name)
    return Approved(notice, int(count or 0), needed, complete)


def reject(session: Session, *, notice: Notice, actor: Actor, reason: str) -> None:
    """Turn the draft down, saying why (it can be edited and approved later)."""
    actor.require(APPROVERS, "reject notices")
    if not reason.strip():
        raise NotReady("say why the notice is rejected")
    move(session, notice, S.REJECTED, actor=actor.name, reason=reason.strip())


def cancel(session: Session, *, notice: Notice, actor: str, reason: str) -> None:
    """Withdraw a notice that has not gone out."""
    move(session, notice, S.CANCELLED, actor=actor, reason=reason)


def edit(
    session: Session,
    *,
    notice: Notice,
    actor: Actor,
    subject: str | None = None,
    text: str | None = None,
    recipient: str | None = None,
    form_url: str | None = None,
) -> None:
    """Change a draft (or a rejected notice, which becomes a draft again). Its version
    rises, so earlier approvals no longer count."""
    actor.require(frozenset({Role.ADMIN, Role.REVIEWER, Role.CASE_WORKER}), "edit notices")
    check_case(session, notice.case_id)
    if notice.state not in (S.DRAFTED, S.REJECTED):
        raise BadTransition(f"notice {reference(notice)} is {notice.state.value}: too late to edit")
    if recipient is not None:
        notice.recipient = check_address(recipient)
        notice.recipient_origin = "manual"
    if form_url is not None:
        if not re.match(r"https?://[^\s]+$", form_url):
            raise NotReady(f"not a web form address: {form_url!r}")
        notice.form_url = form_url
    if subject is not None:
        notice.subject = one_line(subject)
    if text is not None:
        if not text.strip():
            raise NotReady("a notice cannot be empty")
        notice.body_text = text
        notice.body_html = text_to_html(text)
    notice.version += 1
    notice.edited_by = actor.name
    if notice.state is S.REJECTED:
        move(session, notice, S.DRAFTED, actor=actor.name)
    session.flush()


def check_address(address: str, *, dotted: bool = True) -> str:
    """An e-mail address fit for a header: one address, no line breaks or controls (and,
    with ``dotted``, a domain with a dot: no ``abuse@localhost`` for a recipient)."""
    address = address.strip()
    domain = r"[^@\s<>,;]+\.[^@\s<>,;]+" if dotted else r"[^@\s<>,;]+"
    if _CONTROL.search(address) or not re.fullmatch(rf"[^@\s<>,;]+@{domain}", address):
        raise NotReady(f"not an e-mail address: {address!r}")
    return address


def text_to_html(text: str) -> str:
    """The HTML part of a notice edited as text: escaped, line breaks kept."""
    return (
        '<!doctype html><html><body><div style="white-space:pre-wrap;font-family:sans-serif">'
        f"{html.escape(text)}</div></body></html>"
    )


def escalate_at(notice: Notice, settings: Settings) -> datetime:
    """When a notice sent now is escalated if nothing happens."""
    return (notice.sent_at or utcnow()) + timedelta(hours=settings.takedown_escalate_after_hours)
