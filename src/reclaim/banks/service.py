"""Banks and their items: keyword-only functions over a session.

Every add, verification and withdrawal also appends to the global change log, in the
same transaction, so that sync and replicas never see a state the database does not hold.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from reclaim.banks.models import (
    Bank,
    BankItem,
    BankKind,
    ChangeLogEntry,
    ChangeOp,
    ItemSignal,
    ItemStatus,
)
from reclaim.cases.events import HashesRegistered, HashesWithdrawn
from reclaim.cases.models import Case, Organisation
from reclaim.cases.service import InvalidName, NotFound, record_event
from reclaim.signals.base import Signal
from reclaim.signals.pdq import PdqSignal
from reclaim.signals.registry import signal_from_json
from reclaim.signals.vpdq import VpdqSignal
from reclaim.store.base import utcnow
from reclaim.store.locks import hold_until_commit

_BANK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_THRESHOLD = 128


class LimitExceeded(Exception):
    """A case tried to register more items than it may."""


def check_bank_name(name: str) -> str:
    """Bank names: 1-64 letters, digits, ``_ . -``; no path separators, spaces or SQL."""
    if not _BANK_NAME.fullmatch(name) or ".." in name:
        raise InvalidName(
            f"bank name {name!r} must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def create_bank(
    session: Session,
    *,
    org: Organisation,
    name: str,
    negative: bool = False,
    threshold: int | None = None,
) -> Bank:
    """A new, empty bank in ``org``."""
    check_bank_name(name)
    if threshold is not None and not 0 <= threshold <= MAX_THRESHOLD:
        raise ValueError(f"threshold must be 0-{MAX_THRESHOLD}, not {threshold}")
    if session.scalar(select(Bank.id).where(Bank.org_id == org.id, Bank.name == name)):
        raise InvalidName(f"bank {name!r} already exists")
    bank = Bank(
        org_id=org.id,
        name=name,
        threshold=threshold,
        kind=BankKind.NEGATIVE if negative else BankKind.NORMAL,
    )
    session.add(bank)
    session.flush()
    return bank


def get_bank(session: Session, *, org: Organisation, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.org_id == org.id, Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank {name!r}")
    return bank


def org_banks(session: Session, *, org: Organisation) -> list[Bank]:
    """The organisation's banks, by name (no counting: cheap enough for every request)."""
    return list(session.scalars(select(Bank).where(Bank.org_id == org.id).order_by(Bank.name)))


def list_banks(session: Session, *, org: Organisation) -> list[tuple[Bank, int]]:
    """The organisation's banks with their active item counts."""
    counts = (
        select(BankItem.bank_id, func.count().label("n"))
        .where(BankItem.status == ItemStatus.ACTIVE)
        .group_by(BankItem.bank_id)
        .subquery()
    )
    rows = session.execute(
        select(Bank, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.bank_id == Bank.id)
        .where(Bank.org_id == org.id)
        .order_by(Bank.name)
    )
    return [(bank, int(n)) for bank, n in rows]


@dataclass(frozen=True, slots=True)
class NewItem:
    """What to bank: the signals, a label, and where it came from."""

    signals: Sequence[Signal]
    label: str
    source: str


def add_items(
    session: Session,
    *,
    bank: Bank,
    items: Sequence[NewItem],
    actor: str,
    case: Case | None = None,
    verified: bool = False,
    case_limit: int | None = None,
) -> list[BankItem]:
    """Bank ``items``; all or none. Items from a case count against ``case_limit``."""
    if case is not None and case_limit is not None:
        already = session.scalar(select(func.count()).where(BankItem.case_id == case.id)) or 0
        if already + len(items) > case_limit:
            raise LimitExceeded(
                f"case {case.number} may register at most {case_limit} items "
                f"({already} already, {len(items)} more asked)"
            )
    added = []
    for new in items:
        if not new.signals:
            raise ValueError(f"item {new.label!r} has no signals")
        item = BankItem(
            public_id=secrets.token_hex(8),
            bank_id=bank.id,
            case_id=case.id if case else None,
            label=new.label,
            source=new.source,
            added_by=actor,
            verified=verified,
            signals=[_signal_row(s) for s in new.signals],
        )
        session.add(item)
        session.flush()
        _log(session, bank=bank, item=item, op=ChangeOp.ADD)
        added.append(item)
    if case is not None and added:
        record_event(
            session,
            case=case,
            event=HashesRegistered(actor=actor, bank=bank.name, items=len(added)),
        )
    return added


def verify_item(session: Session, *, bank: Bank, public_id: str, actor: str) -> BankItem:
    """Mark a private item verified by a person: from now on it is shared."""
    item = get_item(session, bank=bank, public_id=public_id)
    if item.status is not ItemStatus.ACTIVE:
        raise NotFound(f"item {public_id} is withdrawn")
    if not item.verified:
        item.verified = True
        _log(session, bank=bank, item=item, op=ChangeOp.VERIFY)
    return item


def withdraw_item(
    session: Session,
    *,
    bank: Bank,
    public_id: str,
    actor: str,
    reason: str = "",
    delete_hashes: bool = False,
) -> BankItem:
    """Withdraw an item from matching and sharing at once.

    The change log keeps a tombstone and loses the item's hash values. With
    ``delete_hashes`` (a survivor's request) the item's signals and label go too; what
    remains is the audit record that an item existed and was withdrawn, by whom, when.
    """
    item = get_item(session, bank=bank, public_id=public_id)
    if item.status is ItemStatus.WITHDRAWN:
        return item
    item.status = ItemStatus.WITHDRAWN
    item.withdrawn, item.withdrawn_by, item.withdrawn_reason = utcnow(), actor, reason
    session.execute(
        update(ChangeLogEntry)
        .where(ChangeLogEntry.item_public_id == item.public_id)
        .values(signals=None)
    )
    _log(session, bank=bank, item=item, op=ChangeOp.WITHDRAW)
    if delete_hashes:
        item.signals.clear()
        item.label = "[deleted at the survivor's request]"
    if item.case_id is not None:
        case = session.get(Case, item.case_id)
        assert case is not None
        record_event(
            session,
            case=case,
            event=HashesWithdrawn(actor=actor, bank=bank.name, items=1, deleted=delete_hashes),
        )
    session.flush()
    return item


def get_item(session: Session, *, bank: Bank, public_id: str) -> BankItem:
    item = session.scalar(
        select(BankItem).where(BankItem.bank_id == bank.id, BankItem.public_id == public_id)
    )
    if item is None:
        raise NotFound(f"no item {public_id!r} in bank {bank.name!r}")
    return item


def active_items(
    session: Session, *, banks: Sequence[Bank], shared_only: bool = False
) -> list[BankItem]:
    """The items that take part in matching: all of them for Reclaim's own monitor, only
    verified (shared) ones when ``shared_only`` (what platforms may match against)."""
    query = select(BankItem).where(
        BankItem.bank_id.in_([b.id for b in banks]), BankItem.status == ItemStatus.ACTIVE
    )
    if shared_only:
        query = query.where(BankItem.verified.is_(True))
    return list(session.scalars(query.order_by(BankItem.id)))


def last_change(session: Session) -> int:
    """The newest change log sequence number (0 when empty): matchers rebuild past it."""
    return session.scalar(select(func.max(ChangeLogEntry.seq))) or 0


def log_entry_key(session: Session, seq: int) -> str:
    """What identifies change log entry ``seq`` (its item, operation and time; "" for 0 or
    none): whoever kept a position in the log checks it still names the same entry, since
    a database restored from a backup rewinds the log and then refills it."""
    row = session.get(ChangeLogEntry, seq) if seq else None
    if row is None:
        return ""
    return f"{row.item_public_id} {row.op.value} {row.created.isoformat()}"


def item_signals(item: BankItem) -> list[Signal]:
    """An item's signals as typed values."""
    out: list[Signal] = []
    for row in item.signals:
        if row.signal_type == "vpdq":
            out.append(signal_from_json({"type": "vpdq", "frames": json.loads(row.value)}))
        else:
            data: dict[str, Any] = {"type": row.signal_type, "value": row.value}
            if row.quality is not None:
                data["quality"] = row.quality
            if row.grid is not None:
                data["grid"] = json.loads(row.grid)
            out.append(signal_from_json(data))
    return out


def _signal_row(signal: Signal) -> ItemSignal:
    if isinstance(signal, VpdqSignal):
        frames = signal.to_json()["frames"]
        return ItemSignal(signal_type="vpdq", value=json.dumps(frames, separators=(",", ":")))
    if isinstance(signal, PdqSignal):
        grid = None
        if signal.grid is not None:
            grid = json.dumps(signal.grid.to_json(), separators=(",", ":"))
        return ItemSignal(signal_type="pdq", value=signal.value, quality=signal.quality, grid=grid)
    return ItemSignal(signal_type=signal.type, value=signal.to_json()["value"])


def _log(session: Session, *, bank: Bank, item: BankItem, op: ChangeOp) -> None:
    hold_until_commit(session, "change_log")  # sequence numbers commit in their order
    signals = None
    if op is not ChangeOp.WITHDRAW:
        signals = [_logged(s) for s in item.signals]
    session.add(
        ChangeLogEntry(
            bank_id=bank.id,
            item_public_id=item.public_id,
            op=op,
            shared=item.verified,
            signals=signals,
        )
    )


def _logged(signal: ItemSignal) -> dict[str, Any]:
    out: dict[str, Any] = {"type": signal.signal_type, "value": signal.value}
    if signal.grid is not None:
        out["grid"] = json.loads(signal.grid)
    return out


class SignalRow(NamedTuple):
    """One stored signal with what matching needs of its item, read without the ORM
    (a plain tuple: a matcher loads millions of them)."""

    signal_id: int
    item_id: int
    public_id: str
    label: str
    bank_id: int
    signal_type: str
    value: str
    quality: int | None
    grid: str | None = None
    """The PDQ grid as stored: JSON, nine {value, quality}."""


def _signal_select() -> Select[int, int, str, str, int, str, str, int | None, str | None]:
    """The columns of a :class:`SignalRow`."""
    return select(
        ItemSignal.id,
        BankItem.id,
        BankItem.public_id,
        BankItem.label,
        BankItem.bank_id,
        ItemSignal.signal_type,
        ItemSignal.value,
        ItemSignal.quality,
        ItemSignal.grid,
    ).join(BankItem, BankItem.id == ItemSignal.item_id)


def signal_rows(
    session: Session,
    *,
    banks: Sequence[Bank],
    shared_only: bool,
    public_ids: Sequence[str] | None = None,
) -> Iterator[SignalRow]:
    """The signals of active items (of ``public_ids`` only, when given), streamed."""
    query = (
        _signal_select()
        .where(BankItem.bank_id.in_([b.id for b in banks]), BankItem.status == ItemStatus.ACTIVE)
        .order_by(ItemSignal.id)
    )
    if shared_only:
        query = query.where(BankItem.verified.is_(True))
    if public_ids is not None:
        query = query.where(BankItem.public_id.in_(list(public_ids)))
    for row in session.execute(query.execution_options(yield_per=20_000)):
        yield SignalRow._make(row)


def signals_by_id(session: Session, signal_ids: Sequence[int]) -> Iterator[SignalRow]:
    """The stored signals with these ids (whatever their items' state now), by id."""
    for start in range(0, len(signal_ids), 10_000):
        chunk = list(signal_ids[start : start + 10_000])
        query = _signal_select().where(ItemSignal.id.in_(chunk)).order_by(ItemSignal.id)
        for row in session.execute(query):
            yield SignalRow._make(row)


def changed_items(session: Session, *, after: int) -> tuple[int, set[str]]:
    """The newest log sequence, and the items changed after ``after`` (any bank)."""
    rows = session.execute(
        select(ChangeLogEntry.seq, ChangeLogEntry.item_public_id).where(ChangeLogEntry.seq > after)
    ).all()
    return max((seq for seq, _ in rows), default=after), {public_id for _, public_id in rows}
