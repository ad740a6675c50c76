"""Withdrawing a case stops everything and destroys what may go: her hashes (matching
stops), unsent notices, her stored files -- unless a legal hold keeps them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from reclaim.banks.models import BankItem, ItemStatus
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.cases.models import Case, CaseStatus, ConsentPurpose
from reclaim.evidence.models import CustodyEntry
from reclaim.evidence.service import hold_case
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.store.blobs import Blob, BlobStore, Shredded
from reclaim.store.envelope import MasterKey
from reclaim.survivor.withdrawal import withdraw_case
from reclaim.takedown import service as takedown
from reclaim.takedown.models import Notice, NoticeState

from ..takedown.conftest import World, case_of, resolve, settings_for, sight


def _matches(session, world: World, path) -> list[str]:  # type: ignore[no-untyped-def]
    org = cases.get_org(session)
    signals = hash_file(HashRequest(str(path))).signals
    return [
        m.item for m in MatcherCache().match(session, org=org, shared_only=False, signals=signals)
    ]


@pytest.mark.parametrize("hold", [False, True], ids=["no-hold", "legal-hold"])
def test_withdrawing_stops_matching_and_destroys_what_may_go(
    database, world: World, photo_files, tmp_path, hold: bool
) -> None:
    settings = settings_for(tmp_path)
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    master = MasterKey.create(tmp_path / "master.key")
    store = BlobStore(tmp_path / "blobs", master)
    with database.session() as session:
        case = case_of(session, world)
        org = cases.get_org(session)
        cases.record_consent(
            session, case=case, purpose=ConsentPurpose.SEARCH, granted=True, actor="her"
        )
        (notice,) = takedown.draft_confirmed(session, settings=settings, resolver=resolve)
        blob = store.put(
            session, org_id=org.id, case_id=case.id, kind="capture", data=b"sealed capture"
        )
        if hold:
            hold_case(session, org=org, case=case, actor="lee", reason="police case 2026-17")
        assert set(_matches(session, world, photo_files["one.jpg"])) == {"one.jpg"}
        notice_id, blob_id = notice.id, blob.id
    with database.session() as session:
        case = case_of(session, world)
        # Without the master key: a withdrawal must never depend on one being present.
        done = withdraw_case(
            session, case=case, blobs=BlobStore(tmp_path / "blobs", None), actor="survivor"
        )
        assert (done.items, done.notices, done.held) == (2, 1, hold)
        assert done.files == (0 if hold else 1)
    with database.session() as session:
        case = session.get(Case, world.case_id)
        assert case is not None
        assert case.status is CaseStatus.WITHDRAWN
        items = session.scalars(select(BankItem).where(BankItem.case_id == case.id)).all()
        assert {i.status for i in items} == {ItemStatus.WITHDRAWN}
        assert all(i.signals in (None, [], {}) for i in items)
        assert _matches(session, world, photo_files["one.jpg"]) == []
        notice = session.get(Notice, notice_id)
        assert notice is not None
        assert notice.state is NoticeState.CANCELLED
        for purpose in ConsentPurpose:
            assert cases.consent_given(session, case=case, purpose=purpose) is None
        blob = session.get(Blob, blob_id)
        assert blob is not None
        events = [json.loads(e.body)["event"] for e in session.scalars(select(CustodyEntry))]
        assert ("deleted" in events) is (not hold)
        if hold:
            assert store.read(session, blob) == b"sealed capture"
        else:
            with pytest.raises(Shredded):
                store.read(session, blob)
        again = withdraw_case(session, case=case, blobs=store, actor="survivor")
        assert (again.items, again.notices) == (0, 0)
