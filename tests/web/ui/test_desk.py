"""The desk's work through the staff app: cases opened by phone, notes and URLs, evidence
exports that need a second person, items verified before platforms see them, disputes,
withdrawal, accounts, and the exposure counter's day."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from reclaim.banks.models import BankItem, ItemStatus
from reclaim.banks.platform_models import Dispute, DisputeStatus
from reclaim.cases import audit
from reclaim.cases.models import Case, ConsentPurpose
from reclaim.cases.notes import CaseNote
from reclaim.cases.roles import Role
from reclaim.cases.service import record_consent
from reclaim.cases.staff import StaffUser
from reclaim.evidence.export import verify_export
from reclaim.evidence.requests import ExportRequest, ExportState
from reclaim.monitor.models import Source
from reclaim.store.blobs import BlobStore
from reclaim.survivor.withdrawal import withdraw_case
from reclaim.web.app import create_app
from tests.web.ui.conftest import StaffWorld, form_token


def _post(world: StaffWorld, path: str, csrf: str, **fields: str):  # type: ignore[no-untyped-def]
    return world.client.post(path, data={"csrf": csrf, **fields}, follow_redirects=False)


def test_a_case_opened_by_phone_gives_her_secrets_that_open_the_portal(
    staff_world: StaffWorld,
) -> None:
    world = staff_world
    csrf = world.sign_in_as(world.north, Role.CASE_WORKER)
    page = _post(world, "/staff/cases", csrf, consent_search="yes", consent_takedown="yes")
    assert page.status_code == 200
    number = re.search(r"<dt>Case number</dt><dd><code>([^<]+)</code>", page.text)
    passphrase = re.search(r"<dt>Passphrase</dt><dd><code>([^<]+)</code>", page.text)
    assert number is not None
    assert passphrase is not None
    with world.database().session() as session:
        case = session.scalars(select(Case).where(Case.number == number.group(1))).one()
        assert case.org_id == world.north.id
    # Her organisation's portal (RECLAIM_PORTAL_ORG) opens her case with them.
    portal = world.settings.model_copy(update={"portal_org": "north"})
    with TestClient(create_app(portal), base_url="http://127.0.0.1") as client:
        token = form_token(client.get("/signin").text)
        signed = client.post(
            "/signin",
            data={"token": token, "number": number.group(1).lower(),
                  "passphrase": passphrase.group(1)},
            follow_redirects=False,
        )  # fmt: skip
        assert signed.status_code == 303
        assert signed.headers["location"] == "/case"
    # The installation's default portal does not know another organisation's case.
    token = form_token(world.client.get("/signin").text)
    elsewhere = world.client.post(
        "/signin",
        data={"token": token, "number": number.group(1), "passphrase": passphrase.group(1)},
    )
    assert elsewhere.status_code == 400


def test_notes_and_urls_on_a_case(staff_world: StaffWorld) -> None:
    world = staff_world
    csrf = world.sign_in_as(world.north, Role.CASE_WORKER)
    case_id = world.north.objects["case"]
    assert (
        _post(world, f"/staff/cases/{case_id}/notes", csrf, text="She called at 3pm.").status_code
        == 303
    )
    urls = "https://board.example/post/9\nnot a url\nhttp://127.0.0.1/admin"
    answer = _post(world, f"/staff/cases/{case_id}/urls", csrf, urls=urls)
    assert answer.status_code == 303
    page = world.client.get(f"/staff/cases/{case_id}")
    assert "She called at 3pm." in page.text
    with world.database().session() as session:
        sources = session.scalars(select(Source).where(Source.case_id == case_id)).all()
        # Not a URL is refused; an internal address is kept but the fetcher's guard never
        # connects to it (tests/monitor).
        assert [s.url for s in sources] == [
            "https://board.example/post/9",
            "http://127.0.0.1/admin",
        ]
        assert {s.kind for s in sources} == {"reported"}
    assert "urls_2_1" in answer.headers["location"]


def test_an_export_needs_a_second_person_and_verifies_offline(
    staff_world: StaffWorld, tmp_path: Path
) -> None:
    world = staff_world
    case_id = world.north.objects["case"]
    worker = world.sign_in_as(world.north, Role.CASE_WORKER)
    assert _post(world, f"/staff/cases/{case_id}/export", worker).status_code == 303
    with world.database().session() as session:
        mine = session.scalars(
            select(ExportRequest).where(
                ExportRequest.case_id == case_id, ExportRequest.requested_by.like("case_worker@%")
            )
        ).one()
        request_id = mine.id
    refused = _post(world, f"/staff/exports/{request_id}/approve", worker)
    assert refused.status_code == 409  # not by the person who asked
    reviewer = world.sign_in_as(world.north, Role.REVIEWER)
    assert _post(world, f"/staff/exports/{request_id}/approve", reviewer).status_code == 303
    assert _post(world, f"/staff/exports/{request_id}/approve", reviewer).status_code == 409
    download = world.client.get(f"/staff/exports/{request_id}/download")
    assert download.status_code == 200
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert list((world.settings.data_dir / "tmp").iterdir()) == []  # the scratch zip is gone
    out = tmp_path / "received"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        archive.extractall(out)
    (folder,) = out.iterdir()
    report = verify_export(folder)
    assert report.checked
    actions = {e.action for e in audit_entries(world)}
    assert {"export_requested", "export_approved", "export_downloaded"} <= actions


def test_an_export_without_consent_needs_a_written_legal_basis(staff_world: StaffWorld) -> None:
    world = staff_world
    case_id = world.north.objects["case"]
    with world.database().session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        record_consent(
            session, case=case, purpose=ConsentPurpose.POLICE_EVIDENCE, granted=False, actor="t"
        )
    csrf = world.sign_in_as(world.north, Role.CASE_WORKER)
    assert _post(world, f"/staff/cases/{case_id}/export", csrf).status_code == 409
    basis = "Seoul police request 2026-123 under the Criminal Procedure Act Art. 215"
    assert (
        _post(world, f"/staff/cases/{case_id}/export", csrf, legal_basis=basis).status_code == 303
    )


def test_items_are_shared_only_when_verified_with_her_consent(staff_world: StaffWorld) -> None:
    world = staff_world
    item_id = world.north.objects["item"]
    csrf = world.sign_in_as(world.north, Role.REVIEWER)
    with world.database().session() as session:
        case = session.get(Case, world.north.objects["case"])
        assert case is not None
        record_consent(
            session, case=case, purpose=ConsentPurpose.SHARE_HASHES, granted=False, actor="t"
        )
    refused = _post(world, f"/staff/items/{item_id}/verify", csrf)
    assert refused.status_code == 409
    assert "agreed" in refused.text
    with world.database().session() as session:
        assert session.get(BankItem, item_id).verified is False  # type: ignore[union-attr]
        case = session.get(Case, world.north.objects["case"])
        assert case is not None
        record_consent(
            session, case=case, purpose=ConsentPurpose.SHARE_HASHES, granted=True, actor="t"
        )
    assert _post(world, f"/staff/items/{item_id}/verify", csrf).status_code == 303
    with world.database().session() as session:
        assert session.get(BankItem, item_id).verified is True  # type: ignore[union-attr]


def test_an_upheld_dispute_withdraws_the_item(staff_world: StaffWorld) -> None:
    world = staff_world
    dispute_id = world.north.objects["dispute"]
    csrf = world.sign_in_as(world.north, Role.ADMIN)
    assert "not a match" in world.client.get("/staff/approvals").text
    assert (
        _post(world, f"/staff/disputes/{dispute_id}/resolve", csrf, decision="maybe").status_code
        == 400
    )
    assert (
        _post(world, f"/staff/disputes/{dispute_id}/resolve", csrf, decision="uphold").status_code
        == 303
    )
    with world.database().session() as session:
        dispute = session.get(Dispute, dispute_id)
        assert dispute is not None
        assert dispute.status is DisputeStatus.UPHELD
        item = session.get(BankItem, world.north.objects["item"])
        assert item is not None
        assert item.status is ItemStatus.WITHDRAWN
    # Decided: it is no longer in the queue.
    assert (
        _post(world, f"/staff/disputes/{dispute_id}/resolve", csrf, decision="reject").status_code
        == 404
    )


def test_her_withdrawal_clears_the_desk(staff_world: StaffWorld) -> None:
    world = staff_world
    case_id = world.north.objects["case"]
    csrf = world.sign_in_as(world.north, Role.CASE_WORKER)
    _post(world, f"/staff/cases/{case_id}/notes", csrf, text="her new address is ...")
    with world.database().session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        blobs = BlobStore(world.settings.data_dir / "blobs", world.master)
        withdraw_case(session, case=case, blobs=blobs, actor="survivor")
    with world.database().session() as session:
        assert session.scalars(select(CaseNote).where(CaseNote.case_id == case_id)).all() == []
        request = session.get(ExportRequest, world.north.objects["export"])
        assert request is not None
        assert request.state is ExportState.REJECTED
    reviewer = world.sign_in_as(world.north, Role.REVIEWER)
    export = world.north.objects["export"]
    assert _post(world, f"/staff/exports/{export}/approve", reviewer).status_code == 409
    csrf = world.sign_in_as(world.north, Role.CASE_WORKER)
    assert _post(world, f"/staff/cases/{case_id}/export", csrf).status_code == 409
    urls = _post(world, f"/staff/cases/{case_id}/urls", csrf, urls="https://board.example/x")
    assert urls.status_code == 409
    with world.database().session() as session:
        assert session.scalars(select(Source).where(Source.case_id == case_id)).all() == []
    preview = world.client.get(f"/staff/sightings/{world.north.objects['sighting']}/preview")
    assert preview.headers["content-type"] == "image/svg+xml"  # the thumbnail was shredded


def test_accounts_made_and_disabled_by_an_admin(staff_world: StaffWorld) -> None:
    world = staff_world
    csrf = world.sign_in_as(world.north, Role.ADMIN)
    made = _post(
        world, "/staff/users", csrf, email="Kim@North.example", role="reviewer", name="Kim"
    )
    assert made.status_code == 200
    password = re.search(r"<code>([^<]+)</code>", made.text)
    assert password is not None
    duplicate = _post(world, "/staff/users", csrf, email="kim@north.example", role="reviewer")
    assert duplicate.status_code == 409
    target = world.north.objects["user"]
    other = world.client.cookies.get("reclaim_staff")
    world.sign_in_as(world.north, Role.CASE_WORKER)  # someone else is signed in...
    with world.database().session() as session:
        session.get(StaffUser, target)
    world.client.cookies.set("reclaim_staff", other or "", path="/staff")
    assert _post(world, f"/staff/users/{target}/disable", csrf).status_code == 303
    with world.database().session() as session:
        user = session.get(StaffUser, target)
        assert user is not None
        assert user.disabled is not None
    own = world.north.users[Role.ADMIN]
    assert _post(world, f"/staff/users/{own}/disable", csrf).status_code == 409


def test_the_exposure_counter_counts_the_desks_day() -> None:
    # 23:30 UTC on 30 November is 08:30 on 1 December in Seoul: a new day there.
    moment = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    start = audit.day_start(moment, "Asia/Seoul")
    assert start.isoformat() == "2026-12-01T00:00:00+09:00"
    assert audit.day_start(moment, "UTC").isoformat() == "2026-11-30T00:00:00+00:00"


def audit_entries(world: StaffWorld) -> list[audit.AuditEntry]:
    with world.database().session() as session:
        rows = list(session.scalars(select(audit.AuditEntry)))
        session.expunge_all()
        return rows


def test_case_list_filters(staff_world: StaffWorld) -> None:
    world = staff_world
    world.sign_in_as(world.north, Role.AUDITOR)
    case_id = world.north.objects["case"]
    link = f'href="/staff/cases/{case_id}"'
    for shown, listed in (
        ("open", True),
        ("new_sightings", True),  # the fixture's sighting is new
        ("waiting_approval", True),  # its notice is drafted, its export asked for
        ("overdue", False),
        ("closed", False),
        ("withdrawn", False),
        ("all", True),
        ("<script>", True),  # anything else: the open cases
    ):
        page = world.client.get("/staff/cases", params={"show": shown})
        assert page.status_code == 200
        assert (link in page.text) is listed, shown
    foreign = f'href="/staff/cases/{world.south.objects["case"]}"'
    assert foreign != link
    assert foreign not in world.client.get("/staff/cases", params={"show": "all"}).text


def test_an_export_that_cannot_be_made_leaves_the_request_waiting(
    staff_world: StaffWorld,
) -> None:
    world = staff_world
    export = world.north.objects["export"]
    with world.database().session() as session:  # her files were destroyed meanwhile
        BlobStore(world.settings.data_dir / "blobs", world.master).shred(
            session, case_id=world.north.objects["case"]
        )
    reviewer = world.sign_in_as(world.north, Role.REVIEWER)
    refused = _post(world, f"/staff/exports/{export}/approve", reviewer)
    assert refused.status_code == 409
    with world.database().session() as session:
        request = session.get(ExportRequest, export)
        assert request is not None
        assert request.state is ExportState.REQUESTED
        assert request.folder is None
    exports = world.settings.data_dir / "exports"
    assert not exports.exists() or list(exports.iterdir()) == []
