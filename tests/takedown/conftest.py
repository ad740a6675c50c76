"""The takedown world: a case with banked photos, a loopback forum whose pages show copies
of them (pages can be taken down, files replaced), confirmed sightings, and a real SMTP
server (aiosmtpd) on loopback that keeps every message it accepts."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from PIL import Image
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.banks.models import BankItem
from reclaim.cases import service as cases
from reclaim.cases.models import Case, ConsentPurpose, Organisation
from reclaim.config import Settings
from reclaim.demo.media import make_photo
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.sightings import Seen, record_sighting, review_sighting
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.store.base import utcnow

from ..monitor.conftest import SITE_ADDRESS, Site, _serve, send

HOSTS = ("forum.example", "mirror.example", "cdn.example")


def resolve(host: str, port: int) -> Sequence[str]:
    """Test names all live on the loopback site's address."""
    if host in HOSTS:
        return [SITE_ADDRESS]
    raise OSError(f"no such host {host}")


@dataclass
class Mailbox:
    """Messages the SMTP server accepted (and those it started to receive)."""

    accepted: list[Envelope] = field(default_factory=list)
    started: list[Envelope] = field(default_factory=list)
    stall: threading.Event | None = None
    """When set up, DATA is received and then the answer withheld until it is set."""

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.started.append(envelope)
        if self.stall is not None:
            import asyncio

            while not self.stall.is_set():
                await asyncio.sleep(0.05)
        self.accepted.append(envelope)
        return "250 OK queued"


@dataclass
class SmtpServer:
    controller: Controller
    mailbox: Mailbox

    @property
    def port(self) -> int:
        return int(self.controller.port)


def free_port() -> int:
    """A loopback port nothing listens on (aiosmtpd needs one named up front)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(controller, mailbox)
    if mailbox.stall is not None:
        mailbox.stall.set()
    controller.stop()


@dataclass
class World:
    settings: Settings
    site: Site
    org_id: int
    case_id: int
    case_number: str
    photos: dict[str, bytes]
    """File name -> bytes of the banked originals (the forum serves them)."""
    item_ids: dict[str, int]
    files: dict[str, bytes] = field(default_factory=dict)
    """Path on the forum -> body served (images); delete a key to take a file down."""
    pages: dict[str, bytes] = field(default_factory=dict)

    def url(self, path: str, host: str = "forum.example") -> str:
        return f"http://{host}:{self.site.port}{path}"

    def publish(self, page: str, image: str, photo: str, body: bytes | None = None) -> None:
        """Put ``photo`` (or ``body``) at ``image`` and a page at ``page`` that shows it."""
        self.files[image] = body if body is not None else self.photos[photo]
        self.pages[page] = (
            f"<html><head><title>post</title></head><body><img src='{image}'></body></html>"
        ).encode()
        for path in (page, image):
            self.site.routes[path] = self._route(path)

    def take_down(self, path: str) -> None:
        self.files.pop(path, None)
        self.pages.pop(path, None)

    def _route(self, path: str) -> Callable[[BaseHTTPRequestHandler], None]:
        def route(handler: BaseHTTPRequestHandler) -> None:
            if path in self.pages:
                send(handler, 200, self.pages[path], "text/html; charset=utf-8")
            elif path in self.files:
                send(handler, 200, self.files[path], "image/jpeg")
            else:
                send(handler, 404, b"gone", "text/plain")

        return route


def settings_for(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        fetch_allow_networks=f"{SITE_ADDRESS}/32",
        fetch_retries=0,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    return {
        name: make_photo(folder / name, 640, 480, seed=seed)
        for seed, name in enumerate(("one.jpg", "two.jpg", "other.jpg"))
    }


@pytest.fixture
def world(database, tmp_path: Path, photo_files: dict[str, Path]) -> Iterator[World]:
    """A case (consent to takedown given) with two banked photos; ``other.jpg`` is not
    banked. The forum starts empty."""
    site = _serve(SITE_ADDRESS, {})
    with database.session() as session:
        org = cases.get_org(session)
        org.contact_email = "desk@support.example"
        case = cases.open_case(session, org=org, actor="test")
        cases.record_consent(
            session, case=case, purpose=ConsentPurpose.TAKEDOWN, granted=True, actor="test"
        )
        bank = banks.create_bank(session, org=org, name="survivors")
        names = ("one.jpg", "two.jpg")
        items = [
            banks.NewItem(hash_file(HashRequest(str(photo_files[n]))).signals, n, "test")
            for n in names
        ]
        banks.add_items(session, bank=bank, items=items, actor="test", case=case)
        by_label = {
            i.label: i.id
            for i in session.scalars(select(BankItem).where(BankItem.case_id == case.id))
        }
        world = World(
            settings=settings_for(tmp_path),
            site=site,
            org_id=org.id,
            case_id=case.id,
            case_number=case.number,
            photos={n: p.read_bytes() for n, p in photo_files.items()},
            item_ids={n: by_label[n] for n in names},
        )
    yield world
    site.server.shutdown()


def sight(
    database,
    world: World,
    *,
    page: str,
    image: str,
    photo: str,
    host: str = "forum.example",
    confirm: bool = True,
    when: datetime | None = None,
) -> int:
    """Publish ``photo`` on the forum and record the monitor's sighting of it."""
    world.publish(page, image, photo)
    body = world.files[image]
    with database.session() as session:
        org = session.get(Organisation, world.org_id)
        item = session.get(BankItem, world.item_ids[photo])
        assert org is not None
        assert item is not None
        sighting, _ = record_sighting(
            session,
            org=org,
            seen=Seen(
                item=item,
                page_url=world.url(page, host),
                media_url=world.url(image, host),
                media_sha256=hashlib.sha256(body).hexdigest(),
                match={"signal": "pdq", "distance": 0},
                when=when or utcnow(),
            ),
        )
        if confirm:
            review_sighting(
                session,
                org=org,
                sighting_id=sighting.id,
                status=SightingStatus.CONFIRMED,
                actor="t",
            )
        return sighting.id


def reencoded(body: bytes, quality: int = 60) -> bytes:
    out = io.BytesIO()
    with Image.open(io.BytesIO(body)) as image:
        image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def case_of(session, world: World) -> Case:
    case = session.get(Case, world.case_id)
    assert case is not None
    return case


def sightings(session) -> list[Sighting]:
    return list(session.scalars(select(Sighting).order_by(Sighting.id)))
