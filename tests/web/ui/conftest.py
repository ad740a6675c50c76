"""A staff app on a real database with two organisations, every role, and one object of
every kind in each organisation -- for the authorisation matrix and the flows."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from reclaim.banks import service as banks
from reclaim.banks.platforms import create_key, open_dispute
from reclaim.cases import service as cases
from reclaim.cases.models import ConsentPurpose, Organisation
from reclaim.cases.roles import Role
from reclaim.cases.staff import Accounts, StaffUser
from reclaim.cases.staff_sessions import STAGE_OPEN, open_session
from reclaim.config import Settings
from reclaim.evidence import custody
from reclaim.evidence.capture import Capture
from reclaim.evidence.keys import create_key as create_signing_key
from reclaim.evidence.keys import signer
from reclaim.evidence.models import Evidence
from reclaim.evidence.requests import ExportRequest
from reclaim.evidence.wacz import package
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.signals.pdq import PdqSignal
from reclaim.store.base import utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.db import open_database
from reclaim.store.envelope import MasterKey
from reclaim.takedown import service as takedown
from reclaim.takedown.directory import set_contact
from reclaim.takedown.models import Notice
from reclaim.web.app import create_app
from reclaim.web.ui.guard import SESSION_COOKIE

PASSWORD = "correct horse battery staple"
ROLES = tuple(Role)


def jpeg(colour: tuple[int, int, int] = (200, 40, 40), size: int = 64) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (size, size), colour)
    for x in range(0, size, 8):  # some detail, so that blurring shows
        for y in range(size):
            image.putpixel((x, y), (255, 255, 255))
    image.save(out, "JPEG")
    return out.getvalue()


@dataclass
class Org:
    id: int
    slug: str
    users: dict[Role, int] = field(default_factory=dict)
    """One account per role."""
    objects: dict[str, int] = field(default_factory=dict)
    """One object of each kind the routes name: case, sighting, evidence, notice, ..."""


@dataclass
class StaffWorld:
    settings: Settings
    client: TestClient
    master: MasterKey
    north: Org
    south: Org

    def database(self):  # type: ignore[no-untyped-def]
        return self.client.app.state.ui.database  # type: ignore[attr-defined]

    def sign_in_as(self, org: Org, role: Role) -> str:
        """An open session for ``role`` of ``org`` (the cookie set); its CSRF token."""
        with self.database().session() as session:
            user = session.get(StaffUser, org.users[role])
            assert user is not None
            opened = open_session(session, user=user, stage=STAGE_OPEN)
        self.client.cookies.set(SESSION_COOKIE, opened.token, path="/staff")
        return opened.csrf

    def totp(self, email: str) -> pyotp.TOTP:
        with self.database().session() as session:
            user = session.query(StaffUser).filter_by(email=email).one()
            assert user.totp_sealed is not None
            secret = self.master.unwrap(user.totp_sealed, f"staff-totp:{user.id}").decode()
        return pyotp.TOTP(secret)


def staff_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        staff_argon2_time_cost=1,
        staff_argon2_memory_kib=8192,
        portal_argon2_time_cost=1,
        portal_argon2_memory_kib=8192,
        **extra,  # type: ignore[arg-type]
    )


def populate(
    session, org: Organisation, master: MasterKey, blobs: BlobStore, settings: Settings
) -> Org:  # type: ignore[no-untyped-def]
    made = Org(org.id, org.slug)
    create_signing_key(session, org=org, master=master)
    accounts = Accounts(settings, master)
    for role in ROLES:
        user = accounts.add(
            session, org=org, email=f"{role.value}@{org.slug}.example", role=role, password=PASSWORD
        )
        made.users[role] = user.id
    target = accounts.add(
        session, org=org, email=f"target@{org.slug}.example", role=Role.CASE_WORKER,
        password=PASSWORD,
    )  # fmt: skip
    made.objects["user"] = target.id
    case = cases.open_case(session, org=org, actor="test")
    for purpose in ConsentPurpose:
        cases.record_consent(session, case=case, purpose=purpose, granted=True, actor="test")
    made.objects["case"] = case.id
    bank = banks.create_bank(session, org=org, name="survivors")
    pdq = PdqSignal("f" * 64, 100)
    (item,) = banks.add_items(
        session, bank=bank, actor="test", case=case, items=[banks.NewItem([pdq], "label", "test")]
    )
    made.objects["item"] = item.id
    thumbnail = blobs.put(session, org_id=org.id, case_id=case.id, kind="thumbnail", data=jpeg())
    sighting = Sighting(
        org_id=org.id, case_id=case.id, item_id=item.id,
        page_url=f"http://{org.slug}.forum.example/post/1",
        media_url=f"http://{org.slug}.forum.example/img/1.jpg", media_url_key="k" * 64,
        media_sha256="a" * 64, match={"bank": "survivors", "signal": "pdq", "distance": 12},
        thumbnail_blob_id=thumbnail.id,
    )  # fmt: skip
    session.add(sighting)
    session.flush()
    made.objects["sighting"] = sighting.id
    made.objects["evidence"] = _sealed(session, org, case, sighting, master, blobs)
    notice = _drafted(session, org, case, item, settings)
    made.objects["notice"] = notice.id
    request = ExportRequest(org_id=org.id, case_id=case.id, requested_by="someone@else.example")
    session.add(request)
    key, _ = create_key(session, org=org, name="platform", banks_=[bank])
    item.verified = True
    dispute = open_dispute(session, key=key, item_id=item.public_id, reason="not a match")
    item.verified = False
    session.flush()
    made.objects["export"] = request.id
    made.objects["dispute"] = dispute.id
    return made


def _no_dns(host: str, port: int) -> list[str]:
    raise OSError(f"no such host {host}")


def _drafted(session, org, case, item, settings) -> Notice:  # type: ignore[no-untyped-def]
    """A notice drafted the real way, for a second, confirmed sighting on the same site."""
    org.contact_email = f"desk@{org.slug}.example"
    domain = f"{org.slug}.forum.example"
    set_contact(session, org=org, domain=domain, channel="host_abuse", email=f"abuse@{domain}")
    confirmed = Sighting(
        org_id=org.id, case_id=case.id, item_id=item.id, page_url=f"http://{domain}/post/2",
        media_url=f"http://{domain}/img/2.jpg", media_url_key="m" * 64, media_sha256="b" * 64,
        match={"bank": "survivors", "signal": "pdq", "distance": 8},
        status=SightingStatus.CONFIRMED,
    )  # fmt: skip
    session.add(confirmed)
    session.flush()
    (notice,) = takedown.draft_sightings(
        session, org=org, sighting_ids=[confirmed.id], actor="test", settings=settings,
        resolver=_no_dns,
    )  # fmt: skip
    return notice


def _sealed(session, org, case, sighting, master, blobs) -> int:  # type: ignore[no-untyped-def]
    capture = Capture(
        url=sighting.page_url, final_url=sighting.page_url, captured_at=utcnow(),
        user_agent="test", viewport={"width": 800, "height": 600}, title="<b>post</b>",
        screenshot=_png(), dom=b"<html></html>", warc=b"",
    )  # fmt: skip
    sealed = package(capture, signer(session, org=org, master=master), case=case.number)
    blob = blobs.put(session, org_id=org.id, case_id=case.id, kind="evidence", data=sealed.data)
    evidence = Evidence(
        org_id=org.id, case_id=case.id, sighting_id=sighting.id, url=capture.url,
        final_url=capture.final_url, title=capture.title, status="sealed",
        captured=capture.captured_at, blob_id=blob.id, package_sha256=sealed.sha256,
        datapackage_hash=sealed.datapackage_hash, key_id=sealed.key_id,
        signature=sealed.signature,
    )  # fmt: skip
    session.add(evidence)
    session.flush()
    entry = custody.append(
        session, org=org, event="sealed", actor="test",
        details={
            "evidence": evidence.id, "case": case.number, "url": capture.url,
            "package_sha256": sealed.sha256, "datapackage": sealed.datapackage_hash,
            "key_id": sealed.key_id, "signature": sealed.signature.hex(),
        },
    )  # fmt: skip
    evidence.log_position = entry.position
    return evidence.id


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def staff_world(tmp_path: Path) -> Iterator[StaffWorld]:
    settings = staff_settings(tmp_path)
    master = MasterKey.create(settings.resolved_master_key_file)
    database = open_database(settings)
    blobs = BlobStore(settings.data_dir / "blobs", master)
    with database.session() as session:
        north = populate(
            session, cases.create_org(session, slug="north", name="North centre"), master,
            blobs, settings,
        )  # fmt: skip
        south = populate(
            session, cases.create_org(session, slug="south", name="South centre"), master,
            blobs, settings,
        )  # fmt: skip
    database.dispose()
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield StaffWorld(settings, client, master, north, south)


def form_token(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)
