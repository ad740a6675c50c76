"""News messages: her address kept only encrypted, one plain message in her language when
there is news -- never what or where --, at most once a day, gone when she withdraws."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlalchemy import select

from reclaim.cases import service as cases
from reclaim.cases.access import Access
from reclaim.cases.events import SightingFound, TakedownChanged
from reclaim.cases.models import Case
from reclaim.config import Settings
from reclaim.store.base import utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.envelope import MasterKey
from reclaim.survivor.notify import CaseContact, notify_due
from reclaim.survivor.registration import Contact, parse_files, register
from reclaim.survivor.withdrawal import withdraw_case

from ..backends import stored_bytes
from ..takedown.conftest import SmtpServer

ADDRESS = "her.own@mail.example"
HASHES = [{"kind": "image", "signals": [{"type": "sha256", "value": "ab" * 32}]}]


def _settings(tmp_path: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        portal_argon2_memory_kib=8192,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        mail_from="news@support.example",
        portal_url="https://portal.example/",
    )


def test_news_is_told_plainly_once_a_day_and_never_after_withdrawal(
    database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, smtp_server)
    master = MasterKey.create(tmp_path / "master.key")
    with database.session() as session:
        issued = register(
            session, org=cases.get_org(session), files=parse_files(HASHES, limit=5),
            consents={}, minor=False, access=Access(settings), settings=settings,
            contact=Contact(ADDRESS, "ko", master),
        )  # fmt: skip
        case = session.scalar(select(Case).where(Case.number == issued.number))
        assert case is not None
        stored = session.get(CaseContact, case.id)
        assert stored is not None
        assert ADDRESS.encode() not in stored.sealed
        case_id = case.id
    assert ADDRESS.encode() not in stored_bytes(database)
    now = utcnow()
    assert notify_due(database, settings, master, now=now) == 0  # registering is no news
    with database.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        drafted = TakedownChanged(
            actor="s", notice=1, channel="host_abuse", site="a.example", state="drafted"
        )
        cases.record_event(session, case=case, event=drafted)
    assert notify_due(database, settings, master, now=now) == 0  # a draft is not news yet
    with database.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        found = SightingFound(actor="m", sighting=1, site="leaks.example")
        cases.record_event(session, case=case, event=found)
    assert notify_due(database, settings, master, now=now) == 1
    (envelope,) = smtp_server.mailbox.accepted
    assert envelope.rcpt_tos == [ADDRESS]
    mail = message_from_bytes(envelope.original_content or b"", policy=default)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "새 소식이 있습니다" in mail["Subject"]
    assert "https://portal.example/" in text
    for secret in ("leaks.example", issued.number, "sighting", "사진"):
        assert secret not in text
        assert secret not in str(mail["Subject"])
    with database.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        again = SightingFound(actor="m", sighting=2, site="b.example")
        cases.record_event(session, case=case, event=again)
    assert notify_due(database, settings, master, now=now + timedelta(hours=2)) == 0  # quiet
    assert notify_due(database, settings, master, now=now + timedelta(hours=25)) == 1
    assert notify_due(database, settings, master, now=now + timedelta(hours=50)) == 0  # told
    with database.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        withdraw_case(session, case=case, blobs=BlobStore(tmp_path / "blobs", master), actor="her")
        assert session.get(CaseContact, case_id) is None
    assert len(smtp_server.mailbox.accepted) == 2
