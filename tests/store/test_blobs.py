"""The encrypted blob store: round trips, tampering, crypto-shredding and legal holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reclaim.cases import service as cases
from reclaim.store.blobs import (
    MAGIC,
    BlobError,
    BlobStore,
    HoldActive,
    Shredded,
    place_hold,
    release_hold,
)
from reclaim.store.envelope import MasterKey, UnwrapFailed
from reclaim.store.sealed import CHUNK


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", MasterKey.create(tmp_path / "master.key"))


def _case(session) -> tuple[int, int]:
    org = cases.get_org(session)
    return org.id, cases.open_case(session, org=org, actor="test").id


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 12345])
def test_blobs_round_trip_encrypted(database, store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    with database.session() as session:
        org_id, case_id = _case(session)
        blob = store.put(session, org_id=org_id, case_id=case_id, kind="test", data=data)
        assert store.read(session, blob) == data
        assert blob.size == size
    raw = (store.root / blob.id[:2] / blob.id).read_bytes()
    assert raw.startswith(MAGIC)
    if size >= 32:
        assert data[:32] not in raw  # nothing of the plaintext on disk


def _tampered(store: BlobStore, blob_id: str, change) -> None:
    path = store.root / blob_id[:2] / blob_id
    path.write_bytes(change(path.read_bytes()))


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),  # a flipped byte
        lambda raw: raw[: len(MAGIC) + 8 + CHUNK + 16],  # cut after the first chunk
        lambda raw: (
            raw[: len(MAGIC) + 8]  # the two chunks swapped
            + raw[len(MAGIC) + 8 + CHUNK + 16 :]
            + raw[len(MAGIC) + 8 : len(MAGIC) + 8 + CHUNK + 16]
        ),
        lambda raw: b"not a blob at all",
    ],
)
def test_altered_blobs_are_refused(database, store: BlobStore, change) -> None:
    with database.session() as session:
        org_id, case_id = _case(session)
        blob = store.put(
            session, org_id=org_id, case_id=case_id, kind="test", data=os.urandom(CHUNK + 500)
        )
        _tampered(store, blob.id, change)
        with pytest.raises(BlobError):
            store.read(session, blob)


def test_shredding_destroys_a_case_unless_it_is_held(database, store: BlobStore) -> None:
    with database.session() as session:
        org_id, case_id = _case(session)
        _, other_case = _case(session)
        mine = store.put(session, org_id=org_id, case_id=case_id, kind="t", data=b"evidence")
        theirs = store.put(session, org_id=org_id, case_id=other_case, kind="t", data=b"kept")
        with pytest.raises(ValueError, match="reason"):
            place_hold(session, case_id=case_id, actor="staff", reason=" ")
        place_hold(session, case_id=case_id, actor="staff", reason="police case 2026-1234")
        with pytest.raises(HoldActive):
            store.shred(session, case_id=case_id)
        assert store.read(session, mine) == b"evidence"
        release_hold(session, case_id=case_id, actor="staff")
        assert store.shred(session, case_id=case_id) == 1
        with pytest.raises(Shredded):
            store.read(session, mine)
        assert not (store.root / mine.id[:2] / mine.id).exists()
        with pytest.raises(Shredded):
            store.put(session, org_id=org_id, case_id=case_id, kind="t", data=b"more")
        assert store.read(session, theirs) == b"kept"  # another case is untouched


def test_another_master_key_reads_nothing(database, store: BlobStore, tmp_path: Path) -> None:
    with database.session() as session:
        org_id, case_id = _case(session)
        blob = store.put(session, org_id=org_id, case_id=case_id, kind="t", data=b"secret")
        stranger = BlobStore(store.root, MasterKey.create(tmp_path / "other.key"))
        with pytest.raises(UnwrapFailed):
            stranger.read(session, blob)
