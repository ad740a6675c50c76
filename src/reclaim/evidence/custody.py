"""The custody log: one append-only Merkle tree log per organisation (RFC 6962 hashing).

Every evidence event -- captured, sealed, viewed (each reveal of evidence media), exported,
annotated, held, released, deleted at a survivor's request -- and every change of a
takedown notice's state is an entry: canonical JSON
(sorted keys, no spaces, UTF-8) whose bytes are the leaf data. Appending takes the log's
row lock first (an ``UPDATE ... RETURNING`` of its size), so concurrent writers get
consecutive positions; the hashes of the complete subtrees each entry completes are
stored beside it, so roots and proofs cost O(log n) lookups. A **tree head** signs the
log's size and root with the organisation's key; an inclusion proof ties an entry to a
signed head, a consistency proof ties an older head to a newer one -- which is how anyone
holding two heads can tell the log was only ever appended to.

:func:`verify_log` recomputes the whole log from its entries and checks every stored
hash, every tree head's root and signature, and that heads never went back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.evidence.keys import BadSignature, org_keys, signer, verify_signature
from reclaim.evidence.merkle import (
    MemoryStore,
    ProofError,
    Tree,
    leaf_hash,
    node_hash,
    verify_consistency,
)
from reclaim.evidence.models import CustodyEntry, CustodyLog, CustodyNode, TreeHead
from reclaim.store.base import utcnow
from reclaim.store.envelope import MasterKey
from reclaim.store.upsert import insert_ignoring_conflicts

EVENTS = frozenset(
    {
        "captured",
        "sealed",
        "viewed",
        "exported",
        "annotated",
        "held",
        "released",
        "deleted",
        "notice",  # a takedown notice changed state (drafted, approved, sent, ...)
    }
)
HEAD_PREFIX = b"reclaim-tree-head-v1\n"


class UnknownEvent(ValueError):
    """An event name the custody log does not record."""


def canonical(value: dict[str, Any]) -> bytes:
    """The one byte form of a JSON object: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Appended:
    position: int
    leaf: bytes
    body: bytes


def append(
    session: Session,
    *,
    org: Organisation,
    event: str,
    actor: str,
    details: dict[str, Any],
    when: datetime | None = None,
) -> Appended:
    """Add an entry to the organisation's log (in the caller's transaction)."""
    if event not in EVENTS:
        raise UnknownEvent(f"the custody log does not record {event!r}")
    insert_ignoring_conflicts(session, CustodyLog, [{"org_id": org.id, "size": 0}])
    size = session.execute(
        update(CustodyLog)
        .where(CustodyLog.org_id == org.id)
        .values(size=CustodyLog.size + 1)
        .returning(CustodyLog.size)
    ).scalar_one()
    position = size - 1
    entry = {
        **details,
        "log": org.slug,
        "position": position,
        "event": event,
        "actor": actor,
        "at": (when or utcnow()).isoformat(),
    }
    body = canonical(entry)
    leaf = leaf_hash(body)
    session.add(CustodyEntry(org_id=org.id, position=position, body=body.decode()))
    session.add(CustodyNode(org_id=org.id, level=0, position=position, hash=leaf))
    level, index, value = 0, position, leaf
    while index & 1:  # a right child completes its parent
        left = session.scalar(
            select(CustodyNode.hash).where(
                CustodyNode.org_id == org.id,
                CustodyNode.level == level,
                CustodyNode.position == index - 1,
            )
        )
        if left is None:
            raise RuntimeError(f"custody log of {org.slug} lacks node {level}/{index - 1}")
        value = node_hash(left, value)
        level, index = level + 1, index >> 1
        session.add(CustodyNode(org_id=org.id, level=level, position=index, hash=value))
    session.flush()
    return Appended(position, leaf, body)


class _Stored:
    """The complete-subtree hashes of one organisation's log, read from the database."""

    def __init__(self, session: Session, org_id: int) -> None:
        self._session = session
        self._org_id = org_id

    def size(self) -> int:
        log = self._session.get(CustodyLog, self._org_id)
        return log.size if log is not None else 0

    def perfect(self, level: int, index: int) -> bytes:
        value = self._session.scalar(
            select(CustodyNode.hash).where(
                CustodyNode.org_id == self._org_id,
                CustodyNode.level == level,
                CustodyNode.position == index,
            )
        )
        if value is None:
            raise LookupError(f"the custody log lacks node {level}/{index}")
        return value


def tree(session: Session, *, org: Organisation) -> Tree:
    return Tree(_Stored(session, org.id))


def head_message(log: str, size: int, root: bytes, timestamp: datetime) -> bytes:
    """The bytes a tree head's signature covers."""
    body = {"log": log, "size": size, "root": root.hex(), "timestamp": timestamp.isoformat()}
    return HEAD_PREFIX + canonical(body)


def sign_head(session: Session, *, org: Organisation, master: MasterKey) -> TreeHead:
    """Sign the log's current size and root with the organisation's active key."""
    current = tree(session, org=org)
    size = current.store.size()
    root = current.root(size)
    key = signer(session, org=org, master=master)
    timestamp = utcnow()
    head = TreeHead(
        org_id=org.id,
        size=size,
        root=root,
        timestamp=timestamp,
        key_id=key.key_id,
        signature=key.sign(head_message(org.slug, size, root, timestamp)),
    )
    session.add(head)
    session.flush()
    return head


def latest_head(session: Session, *, org: Organisation) -> TreeHead | None:
    return session.scalar(
        select(TreeHead).where(TreeHead.org_id == org.id).order_by(TreeHead.id.desc())
    )


@dataclass
class LogReport:
    """What :func:`verify_log` checked and what it found wrong."""

    entries: int = 0
    heads: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(session: Session, *, org: Organisation) -> LogReport:
    """Recompute the organisation's whole log and check it against what is stored."""
    report = LogReport()
    log = session.get(CustodyLog, org.id)
    size = log.size if log is not None else 0
    memory = MemoryStore()
    stored = {
        (level, position): value
        for level, position, value in session.execute(
            select(CustodyNode.level, CustodyNode.position, CustodyNode.hash).where(
                CustodyNode.org_id == org.id
            )
        )
    }
    expected_position = 0
    for position, body in session.execute(
        select(CustodyEntry.position, CustodyEntry.body)
        .where(CustodyEntry.org_id == org.id)
        .order_by(CustodyEntry.position)
    ):
        if position != expected_position:
            report.problems.append(f"entry {expected_position} is missing")
            break
        data = body.encode()
        try:
            claimed = json.loads(body).get("position")
        except (ValueError, AttributeError):
            claimed = None
        if claimed != position:
            report.problems.append(f"entry {position} says it is entry {claimed}")
        for level, index, value in memory.append(leaf_hash(data)):
            if stored.get((level, index)) != value:
                report.problems.append(f"entry {position}: stored hash {level}/{index} differs")
        expected_position += 1
    report.entries = expected_position
    if expected_position != size:
        report.problems.append(f"the log says it holds {size} entries, {expected_position} found")
    recomputed = Tree(memory)
    keys = {key.key_id: key for key in org_keys(session, org=org)}
    previous: TreeHead | None = None
    for head in session.scalars(
        select(TreeHead).where(TreeHead.org_id == org.id).order_by(TreeHead.id)
    ):
        report.heads += 1
        name = f"tree head {head.id} (size {head.size})"
        if head.size > memory.size():
            report.problems.append(f"{name} covers entries the log does not hold")
            continue
        if recomputed.root(head.size) != head.root:
            report.problems.append(f"{name}: its root is not the log's root at that size")
        key = keys.get(head.key_id)
        if key is None:
            report.problems.append(f"{name}: signed with an unknown key {head.key_id}")
        else:
            try:
                message = head_message(org.slug, head.size, head.root, head.timestamp)
                verify_signature(key.public_key, head.signature, message)
            except BadSignature:
                report.problems.append(f"{name}: the signature does not verify")
        if previous is not None:
            if head.size < previous.size or head.timestamp < previous.timestamp:
                report.problems.append(f"{name} goes back from tree head {previous.id}")
            else:
                try:
                    proof = recomputed.consistency_proof(previous.size, head.size)
                    verify_consistency(previous.size, head.size, proof, previous.root, head.root)
                except ProofError as error:
                    report.problems.append(f"{name} is not consistent with {previous.id}: {error}")
        previous = head
    return report
