"""Master key, signing keys and the custody log: proofs against signed heads, rotation,
concurrent appends, and every kind of tampering found by ``verify_log``."""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from reclaim.cases import service as cases
from reclaim.evidence import custody
from reclaim.evidence.keys import (
    BadSignature,
    NoSigningKey,
    create_key,
    org_keys,
    signer,
    verify_signature,
)
from reclaim.evidence.merkle import leaf_hash, verify_consistency, verify_inclusion
from reclaim.evidence.models import CustodyEntry, CustodyLog, CustodyNode, SigningKey, TreeHead
from reclaim.store.envelope import MasterKey, MasterKeyInvalid, MasterKeyMissing, UnwrapFailed


@pytest.fixture
def master(tmp_path: Path) -> MasterKey:
    return MasterKey.create(tmp_path / "keys" / "master.key")


def test_the_master_key_file_is_private_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = MasterKey.create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        MasterKey.create(path)  # never over an existing key
    wrapped = key.wrap(b"secret", "a test")
    assert MasterKey.load(path).unwrap(wrapped, "a test") == b"secret"
    with pytest.raises(UnwrapFailed):
        key.unwrap(wrapped, "another purpose")
    with pytest.raises(UnwrapFailed):
        MasterKey.create(tmp_path / "other.key").unwrap(wrapped, "a test")
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(UnwrapFailed):
        key.unwrap(bytes(tampered), "a test")
    os.chmod(path, 0o644)
    with pytest.raises(MasterKeyInvalid, match="chmod"):
        MasterKey.load(path)
    junk = tmp_path / "junk.key"
    junk.write_bytes(b"x" * 37)
    junk.chmod(0o600)
    with pytest.raises(MasterKeyInvalid):
        MasterKey.load(junk)
    with pytest.raises(MasterKeyMissing):
        MasterKey.load(tmp_path / "absent.key")


def test_signing_keys_rotate_and_stay_verifiable(database, master: MasterKey) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        with pytest.raises(NoSigningKey):
            signer(session, org=org, master=master)
        first = create_key(session, org=org, master=master)
        signature = signer(session, org=org, master=master).sign(b"sealed")
        second = create_key(session, org=org, master=master)
        keys = org_keys(session, org=org)
        assert [k.key_id for k in keys] == [first.key_id, second.key_id]
        assert keys[0].retired is not None
        assert keys[1].retired is None
        assert signer(session, org=org, master=master).key_id == second.key_id
        verify_signature(first.public_key, signature, b"sealed")  # the old key still checks
        with pytest.raises(BadSignature):
            verify_signature(second.public_key, signature, b"sealed")
        with pytest.raises(BadSignature):
            verify_signature(first.public_key, signature, b"altered")
        other = cases.create_org(session, slug="other")
        create_key(session, org=other, master=master)
        # A wrapped private key moved to another organisation's row does not unwrap.
        theirs = session.scalars(select(SigningKey).where(SigningKey.org_id == other.id)).one()
        theirs.private_wrapped = second.private_wrapped
        with pytest.raises(UnwrapFailed):
            signer(session, org=other, master=master)


def _fill(database, master: MasterKey, count: int, heads_at: set[int]) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        create_key(session, org=org, master=master)
        for n in range(count):
            custody.append(
                session,
                org=org,
                event="captured" if n % 3 else "viewed",
                actor=f"worker {n % 4}",
                details={"case": "K7Q-4M2-XP9", "package": f"{n:064x}", "note": "증거 확보"},
            )
            if n + 1 in heads_at:
                custody.sign_head(session, org=org, master=master)


def test_entries_are_proven_against_signed_heads(database, master: MasterKey) -> None:
    _fill(database, master, 100, {1, 10, 64, 100})
    with database.session() as session:
        org = cases.get_org(session)
        log = custody.tree(session, org=org)
        bodies = [
            e.body.encode()
            for e in session.scalars(select(CustodyEntry).order_by(CustodyEntry.position))
        ]
        heads = session.scalars(select(TreeHead).order_by(TreeHead.id)).all()
        assert [h.size for h in heads] == [1, 10, 64, 100]
        for head in heads:
            for position in range(0, head.size, 7):
                proof = log.inclusion_proof(position, head.size)
                verify_inclusion(leaf_hash(bodies[position]), position, head.size, proof, head.root)
        for older, newer in itertools.pairwise(heads):
            proof = log.consistency_proof(older.size, newer.size)
            verify_consistency(older.size, newer.size, proof, older.root, newer.root)
        entry = json.loads(bodies[42])
        assert entry["position"] == 42
        assert entry["note"] == "증거 확보"
        report = custody.verify_log(session, org=org)
        assert report.ok, report.problems
        assert (report.entries, report.heads) == (100, 4)
        with pytest.raises(custody.UnknownEvent):
            custody.append(session, org=org, event="shredded", actor="x", details={})


Tamper = Callable[..., None]


def _body(session, position: int, change: Callable[[dict], None]) -> None:
    row = session.scalars(select(CustodyEntry).where(CustodyEntry.position == position)).one()
    data = json.loads(row.body)
    change(data)
    row.body = custody.canonical(data).decode()


def _swap(session, first: int, second: int) -> None:
    rows = session.scalars(
        select(CustodyEntry).where(CustodyEntry.position.in_((first, second)))
    ).all()
    rows[0].body, rows[1].body = rows[1].body, rows[0].body


TAMPERING: dict[str, Tamper] = {
    "an entry edited": lambda s: _body(s, 5, lambda d: d.update(actor="someone else")),
    "entries swapped": lambda s: _swap(s, 3, 4),
    "the last entry dropped": lambda s: s.execute(
        delete(CustodyEntry).where(CustodyEntry.position == 29)
    ),
    "the log truncated": lambda s: (
        s.execute(delete(CustodyEntry).where(CustodyEntry.position >= 20)),
        s.execute(update(CustodyLog).values(size=20)),
    ),
    "a stored hash altered": lambda s: s.execute(
        update(CustodyNode)
        .where(CustodyNode.level == 2, CustodyNode.position == 1)
        .values(hash=b"\x00" * 32)
    ),
    "a head's root replaced": lambda s: s.execute(
        update(TreeHead).where(TreeHead.size == 16).values(root=b"\x11" * 32)
    ),
    "a head's signature replaced": lambda s: s.execute(
        update(TreeHead).where(TreeHead.size == 30).values(signature=b"\x22" * 64)
    ),
    "a head's size changed": lambda s: s.execute(
        update(TreeHead).where(TreeHead.size == 16).values(size=15)
    ),
    "a head signed by an unknown key": lambda s: s.execute(
        update(TreeHead).where(TreeHead.size == 30).values(key_id="0" * 32)
    ),
    "an entry's position rewritten": lambda s: _body(s, 8, lambda d: d.update(position=9)),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampering_is_found(database, master: MasterKey, name: str) -> None:
    _fill(database, master, 30, {16, 30})
    with database.session() as session:
        assert custody.verify_log(session, org=cases.get_org(session)).ok
        TAMPERING[name](session)
    with database.session() as session:
        report = custody.verify_log(session, org=cases.get_org(session))
    assert not report.ok, name
    assert report.problems


def test_concurrent_appends_get_consecutive_positions(database, master: MasterKey) -> None:
    with database.session() as session:
        create_key(session, org=cases.get_org(session), master=master)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        start.wait()
        try:
            for n in range(25):
                with database.session() as session:
                    custody.append(
                        session,
                        org=cases.get_org(session),
                        event="viewed",
                        actor=f"writer {number}",
                        details={"n": n},
                    )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.session() as session:
        org = cases.get_org(session)
        positions = session.scalars(select(CustodyEntry.position)).all()
        assert sorted(positions) == list(range(200))
        custody.sign_head(session, org=org, master=master)
        assert custody.verify_log(session, org=org).ok
