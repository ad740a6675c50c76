"""What people and jobs do with notices: draft, approve, record what happened, escalate.

Keyword-only functions over a session; the command line and the staff app call these,
jobs call the automatic ones (:func:`draft_confirmed`, :func:`escalate_due`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reclaim.banks.models import BankItem
from reclaim.cases.models import Case, CaseStatus, ConsentPurpose, Organisation
from reclaim.cases.roles import APPROVERS, Actor, Role
from reclaim.cases.service import consent_given
from reclaim.config import Settings
from reclaim.monitor.guard import Resolver, system_resolver
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.store.base import utcnow
from reclaim.takedown import outbox, workflow
from reclaim.takedown.drafting import (
    DEFAULT_OPTIONS,
    DraftOptions,
    NotDraftable,
    draft,
    next_channel,
)
from reclaim.takedown.models import (
    Notice,
    NoticeState,
    NoticeTarget,
    OutboxMessage,
    TargetState,
)
from reclaim.takedown.workflow import BadTransition, TakedownError, reference

log = logging.getLogger(__name__)
S = NoticeState
PERSON_MARKS = frozenset({S.ACKNOWLEDGED, S.REMOVED, S.PARTIALLY_REMOVED, S.REFUSED, S.NO_ANSWER})
"""What a person may record from an answer (or its absence)."""


class NoticeNotFound(TakedownError, LookupError):
    """No such notice in this organisation."""


def get_notice(session: Session, *, org: Organisation, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.org_id != org.id:
        raise NoticeNotFound(f"no notice {notice_id}")
    return notice


def list_notices(
    session: Session, *, org: Organisation, states: Sequence[NoticeState] = (), limit: int = 500
) -> list[Notice]:
    query = select(Notice).where(Notice.org_id == org.id)
    if states:
        query = query.where(Notice.state.in_(list(states)))
    return list(session.scalars(query.order_by(Notice.id.desc()).limit(limit)))


def targets(session: Session, *, notice: Notice) -> list[NoticeTarget]:
    return list(
        session.scalars(
            select(NoticeTarget)
            .where(NoticeTarget.notice_id == notice.id)
            .order_by(NoticeTarget.id)
        )
    )


def mail_of(session: Session, *, notice: Notice) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.notice_id == notice.id))


def draft_sightings(
    session: Session,
    *,
    org: Organisation,
    sighting_ids: Sequence[int],
    actor: str,
    settings: Settings,
    options: DraftOptions = DEFAULT_OPTIONS,
    resolver: Resolver = system_resolver,
) -> list[Notice]:
    """Draft notices for the given sightings (each must be confirmed)."""
    sightings = []
    for sighting_id in sighting_ids:
        sighting = session.get(Sighting, sighting_id)
        if sighting is None or sighting.org_id != org.id:
            raise NotDraftable(f"no sighting {sighting_id}")
        sightings.append(sighting)
    return draft(
        session,
        org=org,
        sightings=sightings,
        actor=actor,
        settings=settings,
        options=options,
        resolver=resolver,
    )


def draft_case(
    session: Session,
    *,
    org: Organisation,
    case: Case,
    actor: str,
    settings: Settings,
    options: DraftOptions = DEFAULT_OPTIONS,
    resolver: Resolver = system_resolver,
) -> list[Notice]:
    """Draft notices for every confirmed sighting of ``case`` not yet in an open notice."""
    workflow.check_case(session, case.id)
    confirmed = session.scalars(
        select(Sighting).where(
            Sighting.case_id == case.id, Sighting.status == SightingStatus.CONFIRMED
        )
    ).all()
    return draft(
        session,
        org=org,
        sightings=list(confirmed),
        actor=actor,
        settings=settings,
        options=options,
        resolver=resolver,
    )


def draft_confirmed(
    session: Session, *, settings: Settings, resolver: Resolver = system_resolver
) -> list[Notice]:
    """The automatic drafting: every confirmed sighting of a case that consented to
    takedown notices and is in no notice yet gets one on the first channel. A case that
    cannot be drafted for (an organisation without a contact address, say) is logged and
    left for the next run; it never holds up the others."""
    reported = select(NoticeTarget.sighting_id)
    waiting = (
        select(Sighting)
        .join(Case, Case.id == Sighting.case_id)
        .join(BankItem, BankItem.id == Sighting.item_id)
        .where(
            Sighting.status == SightingStatus.CONFIRMED,
            Case.status == CaseStatus.OPEN,
            BankItem.withdrawn.is_(None),
            Sighting.id.not_in(reported),
        )
    )
    case_ids = session.scalars(
        waiting.with_only_columns(Sighting.case_id).distinct().order_by(Sighting.case_id)
    ).all()
    notices: list[Notice] = []
    for case_id in case_ids:
        case = session.get(Case, case_id)
        if (
            case is None
            or consent_given(session, case=case, purpose=ConsentPurpose.TAKEDOWN) is None
        ):
            continue
        org = session.get(Organisation, case.org_id)
        assert org is not None
        group = session.scalars(
            waiting.where(Sighting.case_id == case_id).order_by(Sighting.id).limit(500)
        ).all()
        try:
            with session.begin_nested():
                notices += draft(
                    session,
                    org=org,
                    sightings=list(group),
                    actor="system",
                    settings=settings,
                    resolver=resolver,
                )
        except TakedownError as error:
            log.warning("no notice drafted for case %s: %s", case.number, error)
    return notices


def approve(
    session: Session, *, notice: Notice, actor: Actor, settings: Settings
) -> workflow.Approved:
    """Approve the notice; once it has the approvals it needs, its mail is queued."""
    result = workflow.approve(session, notice=notice, actor=actor, settings=settings)
    if result.complete and notice.recipient is not None:
        outbox.enqueue(session, notice=notice, settings=settings)
    return result


def edit_notice(
    session: Session,
    *,
    notice: Notice,
    actor: Actor,
    subject: str | None = None,
    text: str | None = None,
    recipient: str | None = None,
    form_url: str | None = None,
) -> None:
    """Change a draft (its approvals start over)."""
    workflow.edit(
        session,
        notice=notice,
        actor=actor,
        subject=subject,
        text=text,
        recipient=recipient,
        form_url=form_url,
    )


def reject(session: Session, *, notice: Notice, actor: Actor, reason: str) -> None:
    """Turn a draft down, saying why."""
    workflow.reject(session, notice=notice, actor=actor, reason=reason)


def submitted(session: Session, *, notice: Notice, actor: Actor, settings: Settings) -> None:
    """A person submitted an approved notice through its web form (KCSC, search engines)."""
    actor.require(frozenset({Role.ADMIN, Role.REVIEWER, Role.CASE_WORKER}), "record a submission")
    workflow.check_case(session, notice.case_id)
    if notice.recipient is not None:
        raise BadTransition(f"notice {reference(notice)} goes by mail: the outbox sends it")
    outbox.record_sent(session, notice=notice, actor=actor.name, settings=settings)


def mark(
    session: Session, *, notice: Notice, state: NoticeState, actor: Actor, reason: str | None = None
) -> None:
    """Record what the recipient did (read from its answer, or its silence)."""
    actor.require(frozenset({Role.ADMIN, Role.REVIEWER, Role.CASE_WORKER}), "record answers")
    if state not in PERSON_MARKS:
        raise BadTransition(
            f"a person records {', '.join(sorted(PERSON_MARKS))}, not {state.value}"
        )
    workflow.move(session, notice, state, actor=actor.name, reason=reason)
    if state is S.REFUSED:
        notice.escalate_after = utcnow()  # a refusal escalates at once


def cancel(session: Session, *, notice: Notice, actor: Actor, reason: str) -> None:
    actor.require(APPROVERS, "cancel notices")
    workflow.cancel(session, notice=notice, actor=actor.name, reason=reason)


def withdraw_case(session: Session, *, case: Case, actor: str) -> int:
    """The survivor withdrew: cancel every notice of hers that has not gone out, and stop
    following up the others (no more re-checks, escalations or re-upload drafts). How
    many were cancelled."""
    count = 0
    for notice in session.scalars(select(Notice).where(Notice.case_id == case.id)):
        if notice.state in (S.DRAFTED, S.REJECTED, S.APPROVED):
            workflow.move(session, notice, S.CANCELLED, actor=actor, reason="the survivor withdrew")
            count += 1
        notice.escalate_after = None
        session.execute(
            update(NoticeTarget).where(NoticeTarget.notice_id == notice.id).values(next_check=None)
        )
    session.flush()
    return count


def escalate_due(
    session: Session,
    *,
    settings: Settings,
    now: datetime | None = None,
    resolver: Resolver = system_resolver,
) -> list[Notice]:
    """Notices whose time ran out with their content still up: silent ones become *no
    answer*, and each moves on to the next channel of the ladder (a new draft for the URLs
    still up, which a person approves like any other)."""
    moment = now or utcnow()
    drafted: list[Notice] = []
    due = session.scalars(
        select(Notice).where(
            Notice.state.in_([S.SENT, S.ACKNOWLEDGED, S.PARTIALLY_REMOVED, S.REFUSED, S.NO_ANSWER]),
            Notice.escalate_after <= moment,
        )
    ).all()
    for notice in due:
        try:
            with session.begin_nested():
                drafted += _escalate(session, notice, settings, moment, resolver)
        except TakedownError as error:
            notice.reason = f"not escalated: {error}"
            notice.escalate_after = None
    return drafted


def _escalate(
    session: Session, notice: Notice, settings: Settings, now: datetime, resolver: Resolver
) -> list[Notice]:
    if notice.state is S.SENT:
        workflow.move(session, notice, S.NO_ANSWER, actor="system", when=now)
    case = session.get(Case, notice.case_id) if notice.case_id is not None else None
    still_up = [
        t.sighting_id for t in targets(session, notice=notice) if t.state is not TargetState.REMOVED
    ]
    following = next_channel(settings, notice, minor=bool(case and case.minor))
    if not still_up or following is None:
        notice.escalate_after = None  # nothing left to remove, or no channel left
        return []
    org = session.get(Organisation, notice.org_id)
    assert org is not None
    sightings = [s for s in (session.get(Sighting, i) for i in still_up) if s is not None]
    new = draft(
        session,
        org=org,
        sightings=sightings,
        actor="system",
        settings=settings,
        options=DraftOptions(
            channel=following.name,
            language=None,
            copyright=bool(notice.options.get("copyright")),
        ),
        resolver=resolver,
        previous=notice,
    )
    workflow.move(session, notice, S.ESCALATED, actor="system", when=now)
    notice.escalate_after = None
    return new
