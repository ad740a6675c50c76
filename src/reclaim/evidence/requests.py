"""Evidence exports wait for a second person: requested, then approved (and made) or rejected.

Capture runs by itself; what *leaves* the organisation does not. A case worker asks for an
export (on the survivor's recorded consent, or a legal basis she writes down); a reviewer
or an admin -- someone other than the person who asked -- approves it, and only then is the
folder made (:func:`reclaim.evidence.export.export_case`). Every step is on the case's
timeline through the export itself, and the request row keeps who decided what, when, why.
"""

from __future__ import annotations

import enum
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from reclaim.cases.models import Case, CaseStatus, ConsentPurpose, Organisation
from reclaim.cases.roles import APPROVERS, Actor, Role
from reclaim.cases.service import consent_given
from reclaim.evidence.export import ExportRefused, export_case
from reclaim.evidence.models import Evidence
from reclaim.store.base import Base, UtcDateTime, enum_values, utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.envelope import MasterKey

REQUESTERS = frozenset({Role.ADMIN, Role.CASE_WORKER, Role.REVIEWER})


class ExportState(enum.StrEnum):
    REQUESTED = "requested"
    MADE = "made"
    REJECTED = "rejected"
    FAILED = "failed"


class ExportRequest(Base):
    __tablename__ = "evidence_export_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(320))
    legal_basis: Mapped[str | None] = mapped_column(Text, nullable=True)
    reveal_screenshots: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[ExportState] = mapped_column(
        Enum(ExportState, native_enum=False, length=16, values_callable=enum_values),
        default=ExportState.REQUESTED,
    )
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    decided: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    folder: Mapped[str | None] = mapped_column(Text, nullable=True)


class ExportNotAllowed(PermissionError):
    """The request cannot be made or decided as asked (the message says why)."""


def request_export(
    session: Session,
    *,
    org: Organisation,
    case: Case,
    actor: Actor,
    legal_basis: str | None = None,
    reveal_screenshots: bool = False,
) -> ExportRequest:
    actor.require(REQUESTERS, "ask for an evidence export")
    if case.org_id != org.id:
        raise LookupError(f"no case {case.number}")
    if case.status is CaseStatus.WITHDRAWN:
        raise ExportNotAllowed(f"case {case.number} was withdrawn: nothing leaves it")
    basis = (legal_basis or "").strip() or None
    if (
        basis is None
        and consent_given(session, case=case, purpose=ConsentPurpose.POLICE_EVIDENCE) is None
    ):
        raise ExportRefused(
            f"case {case.number}: the survivor has not agreed to evidence for the police; "
            "record her consent, or write down the legal basis for this export"
        )
    sealed = session.scalar(
        select(func.count(Evidence.id)).where(
            Evidence.case_id == case.id, Evidence.status == "sealed"
        )
    )
    if not sealed:
        raise ExportNotAllowed(f"case {case.number} has no sealed evidence yet")
    row = ExportRequest(
        org_id=org.id,
        case_id=case.id,
        requested_by=actor.name,
        legal_basis=basis[:4000] if basis else None,
        reveal_screenshots=reveal_screenshots and not case.minor,
    )
    session.add(row)
    session.flush()
    return row


def pending_exports(session: Session, *, org: Organisation) -> list[ExportRequest]:
    return list(
        session.scalars(
            select(ExportRequest)
            .where(ExportRequest.org_id == org.id, ExportRequest.state == ExportState.REQUESTED)
            .order_by(ExportRequest.id)
        )
    )


def get_request(session: Session, *, org: Organisation, request_id: int) -> ExportRequest:
    row = session.get(ExportRequest, request_id)
    if row is None or row.org_id != org.id:
        raise LookupError(f"no export request {request_id}")
    return row


def _decide(session: Session, row: ExportRequest, actor: Actor, state: ExportState) -> None:
    actor.require(APPROVERS, "decide on an evidence export")
    if actor.name == row.requested_by:
        raise ExportNotAllowed("an export is approved by someone other than the person who asked")
    moved = session.execute(
        update(ExportRequest)
        .where(ExportRequest.id == row.id, ExportRequest.state == ExportState.REQUESTED)
        .values(state=state, decided_by=actor.name, decided=utcnow())
    )
    if not getattr(moved, "rowcount", 0):
        raise ExportNotAllowed(f"export request {row.id} was already decided")
    session.refresh(row)


def approve_export(
    session: Session,
    *,
    org: Organisation,
    row: ExportRequest,
    actor: Actor,
    blobs: BlobStore,
    master: MasterKey,
    exports_dir: Path,
) -> dict[str, Any]:
    """Approve and make the export in a new folder under ``exports_dir``; its manifest."""
    case = session.get(Case, row.case_id)
    if case is None:
        raise LookupError(f"the case of export request {row.id} is gone")
    if case.status is CaseStatus.WITHDRAWN:
        raise ExportNotAllowed(f"case {case.number} was withdrawn: nothing leaves it")
    _decide(session, row, actor, ExportState.MADE)
    out = exports_dir / f"{case.number}-{row.id}"
    existed = out.exists()
    try:
        manifest = export_case(
            session,
            org=org,
            case=case,
            blobs=blobs,
            master=master,
            out=out,
            actor=f"{row.requested_by}, approved by {actor.name}",
            legal_basis=row.legal_basis,
            reveal_screenshots=row.reveal_screenshots,
        )
    except BaseException:
        if not existed:  # a half-written folder would block the next try
            shutil.rmtree(out, ignore_errors=True)
        raise
    row.folder = str(out)
    session.flush()
    return manifest


def reject_export(session: Session, *, row: ExportRequest, actor: Actor, reason: str) -> None:
    if not reason.strip():
        raise ValueError("say why the export is rejected")
    _decide(session, row, actor, ExportState.REJECTED)
    row.reason = reason.strip()[:4000]
    session.flush()


def withdraw_case(session: Session, *, case: Case, actor: str) -> int:
    """She withdrew: every export still waiting is turned down; how many."""
    result = session.execute(
        update(ExportRequest)
        .where(ExportRequest.case_id == case.id, ExportRequest.state == ExportState.REQUESTED)
        .values(
            state=ExportState.REJECTED,
            decided_by=actor,
            decided=utcnow(),
            reason="the survivor withdrew",
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
