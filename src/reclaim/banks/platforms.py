"""What platforms do with banks: API keys scoped to banks, delta sync, match logs, disputes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks import service as banks
from reclaim.banks.models import Bank, BankItem, BankKind, ChangeLogEntry, ChangeOp
from reclaim.banks.platform_models import ApiKey, ApiKeyBank, Dispute, DisputeStatus, MatchRequest
from reclaim.cases.models import Organisation
from reclaim.cases.service import InvalidName, NotFound
from reclaim.store.base import utcnow

KEY_PREFIX = "rk"


class AuthError(PermissionError):
    """A missing, malformed, unknown or revoked API key."""


class BadCursor(ValueError):
    """A sync cursor that is malformed or belongs to another bank."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session, *, org: Organisation, name: str, banks_: Sequence[Bank]
) -> tuple[ApiKey, str]:
    """A new key scoped to ``banks_``, and the full key text (shown once, never stored)."""
    if not banks_:
        raise InvalidName("an API key needs at least one bank")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=key_id,
        org_id=org.id,
        name=name,
        secret_sha256=_digest(secret),
        banks=[ApiKeyBank(bank_id=b.id) for b in banks_],
    )
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}_{key_id}_{secret}"


def revoke_key(session: Session, *, org: Organisation, key_id: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.org_id == org.id, ApiKey.key_id == key_id))
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    if key.revoked is None:
        key.revoked = utcnow()
    return key


def authenticate(session: Session, token: str) -> ApiKey:
    """The live key a bearer token names; :class:`AuthError` otherwise (same message for all)."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    key = None
    if prefix == KEY_PREFIX and key_id and secret:
        key = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    expected = key.secret_sha256 if key is not None else _digest("x")
    valid = hmac.compare_digest(expected, _digest(secret or ""))
    if key is None or not valid or key.revoked is not None:
        raise AuthError("invalid or revoked API key")
    return key


def key_banks(session: Session, key: ApiKey) -> list[Bank]:
    """The banks a key may use."""
    ids = [link.bank_id for link in key.banks]
    return list(session.scalars(select(Bank).where(Bank.id.in_(ids)).order_by(Bank.name)))


def scoped_bank(session: Session, key: ApiKey, name: str) -> Bank:
    """The bank ``name`` if the key may use it; otherwise not found (no existence leak)."""
    for bank in key_banks(session, key):
        if bank.name == name:
            return bank
    raise NotFound(f"no bank {name!r}")


def log_match(session: Session, *, key: ApiKey, kind: str, signals: int, matches: int) -> None:
    session.add(MatchRequest(api_key_id=key.id, kind=kind, signals=signals, matches=matches))


@dataclass(frozen=True, slots=True)
class SyncPage:
    records: list[dict[str, Any]]
    cursor: str
    more: bool


def sync_page(session: Session, *, bank: Bank, cursor: str | None, limit: int) -> SyncPage:
    """Shared adds and withdrawals of ``bank`` after ``cursor``, in log order.

    Entries of items withdrawn since carry no values any more and are left out; the
    withdrawal's tombstone (item id only) tells the platform to drop its copy.
    """
    after = _parse_cursor(cursor, bank)
    rows = list(
        session.scalars(
            select(ChangeLogEntry)
            .where(ChangeLogEntry.bank_id == bank.id, ChangeLogEntry.seq > after)
            .order_by(ChangeLogEntry.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    records = [r for r in (_record(row) for row in rows) if r is not None]
    last = rows[-1].seq if rows else after
    return SyncPage(records, f"{bank.id}.{last}", more)


def _record(row: ChangeLogEntry) -> dict[str, Any] | None:
    base = {"seq": row.seq, "item_id": row.item_public_id, "time": row.created.isoformat()}
    if row.op is ChangeOp.WITHDRAW:
        return {**base, "op": "withdraw"} if row.shared else None
    shared = row.op is ChangeOp.VERIFY or row.shared
    if not shared or row.signals is None:
        return None
    return {**base, "op": "add", "signals": row.signals}


def _parse_cursor(cursor: str | None, bank: Bank) -> int:
    if not cursor:
        return 0
    bank_part, _, seq = cursor.partition(".")
    if not (bank_part.isdigit() and seq.isdigit()):
        raise BadCursor("malformed cursor")
    if int(bank_part) != bank.id:
        raise BadCursor("this cursor belongs to another bank")
    return int(seq)


def open_dispute(session: Session, *, key: ApiKey, item_id: str, reason: str) -> Dispute:
    """Queue a platform's dispute of an item it can see for review."""
    item = session.scalar(
        select(BankItem).where(
            BankItem.public_id == item_id, BankItem.bank_id.in_([b.bank_id for b in key.banks])
        )
    )
    if item is None:
        raise NotFound(f"no item {item_id!r}")
    dispute = Dispute(
        public_id=secrets.token_hex(8), item_id=item.id, api_key_id=key.id, reason=reason[:2000]
    )
    session.add(dispute)
    session.flush()
    return dispute


def open_disputes(session: Session, *, org: Organisation) -> list[tuple[Dispute, BankItem, Bank]]:
    """The review queue: open disputes of the organisation's items, oldest first."""
    rows = session.execute(
        select(Dispute, BankItem, Bank)
        .join(BankItem, BankItem.id == Dispute.item_id)
        .join(Bank, Bank.id == BankItem.bank_id)
        .where(Bank.org_id == org.id, Dispute.status == DisputeStatus.OPEN)
        .order_by(Dispute.id)
    )
    return [(d, i, b) for d, i, b in rows]


def resolve_dispute(
    session: Session,
    *,
    org: Organisation,
    dispute_id: str,
    actor: str,
    uphold: bool,
    move_to: Bank | None = None,
    note: str = "",
) -> Dispute:
    """Reject, or uphold: withdraw the item, or move it to a negative bank."""
    found = [row for row in open_disputes(session, org=org) if row[0].public_id == dispute_id]
    if not found:
        raise NotFound(f"no open dispute {dispute_id!r}")
    dispute, item, bank = found[0]
    if uphold:
        if move_to is not None:
            if move_to.kind is not BankKind.NEGATIVE or move_to.org_id != org.id:
                raise InvalidName(f"{move_to.name!r} is not a negative bank of this organisation")
            banks.add_items(
                session,
                bank=move_to,
                actor=actor,
                verified=True,
                items=[
                    banks.NewItem(
                        banks.item_signals(item), item.label, f"dispute:{dispute.public_id}"
                    )
                ],
            )
        banks.withdraw_item(
            session,
            bank=bank,
            public_id=item.public_id,
            actor=actor,
            reason=f"dispute {dispute.public_id} upheld",
        )
    dispute.status = DisputeStatus.UPHELD if uphold else DisputeStatus.REJECTED
    dispute.resolved, dispute.resolved_by, dispute.resolution = utcnow(), actor, note
    return dispute
