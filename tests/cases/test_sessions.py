"""Portal sessions: a token only the browser holds, idle and absolute timeouts, a CSRF
token per session, and every session of a case ended by a new passphrase."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from reclaim.cases import service as cases
from reclaim.cases.access import Access
from reclaim.cases.sessions import (
    PortalSession,
    close_session,
    csrf_ok,
    open_session,
    resume,
)
from reclaim.config import Settings
from reclaim.store.base import utcnow


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        portal_session_idle_minutes=30,
        portal_session_hours=12,
        portal_argon2_memory_kib=8192,
    )


def test_sessions_expire_idle_or_old_and_end_on_sign_out(database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    now = utcnow()
    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="portal")
        opened = open_session(session, case=case, now=now)
        assert session.get(PortalSession, opened.token) is None  # only its hash is stored
        row = resume(
            session, token=opened.token, settings=settings, now=now + timedelta(minutes=29)
        )
        assert row is not None
        assert row.case_id == case.id
        assert csrf_ok(row, opened.csrf)
        assert not csrf_ok(row, "")
        assert not csrf_ok(row, None)
        assert not csrf_ok(row, opened.csrf + "x")
        # Kept alive by use, but never past 12 hours.
        moment = now
        for _ in range(23):
            moment += timedelta(minutes=29)
            assert resume(session, token=opened.token, settings=settings, now=moment) is not None
        assert (
            resume(
                session,
                token=opened.token,
                settings=settings,
                now=now + timedelta(hours=12, minutes=1),
            )
            is None
        )
        idle = open_session(session, case=case, now=now)
        assert (
            resume(session, token=idle.token, settings=settings, now=now + timedelta(minutes=31))
            is None
        )
        other = open_session(session, case=case, now=now)
        row = resume(session, token=other.token, settings=settings, now=now)
        assert row is not None
        assert not csrf_ok(row, opened.csrf)  # another session's token does not pass
        close_session(session, token=other.token)
        assert resume(session, token=other.token, settings=settings, now=now) is None
        for junk in ("", "x" * 10_000, "\x00"):
            assert resume(session, token=junk, settings=settings, now=now) is None


def test_a_new_passphrase_ends_every_session_of_the_case(database, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    access = Access(settings)
    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="portal")
        issued = access.issue(session, case=case)
        stolen = open_session(session, case=case)
        access.recover(session, number=case.number, recovery_code=issued.recovery_code)
        assert resume(session, token=stolen.token, settings=settings) is None
