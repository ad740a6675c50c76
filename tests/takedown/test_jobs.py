"""The takedown tasks run by a worker: a confirmed sighting is drafted without anyone
asking, and once a person approves it the worker mails it -- once."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from reclaim.cases.roles import Actor, Role
from reclaim.jobs.queue import Jobs
from reclaim.takedown import service
from reclaim.takedown.jobs import DRAFT, ESCALATE, RECHECK, SEND
from reclaim.takedown.models import Notice, NoticeState

from .conftest import SmtpServer, World, settings_for, sight


def _until(check: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_the_worker_drafts_and_sends(
    database, world: World, smtp_server: SmtpServer, tmp_path
) -> None:
    settings = settings_for(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        mail_from="notices@support.example",
    )
    sight(database, world, page="/post/1", image="/img/1.jpg", photo="one.jpg")
    jobs = Jobs(settings)
    try:
        jobs.start(workers=1)
        jobs.enqueue(DRAFT)

        def drafted() -> list[int]:
            with database.session() as session:
                return list(session.scalars(select(Notice.id)))

        _until(lambda: len(drafted()) == 1)
        with database.session() as session:
            notice = session.get(Notice, drafted()[0])
            assert notice is not None
            service.approve(
                session, notice=notice, actor=Actor("kim", Role.REVIEWER), settings=settings
            )
        jobs.enqueue(SEND)
        _until(lambda: len(smtp_server.mailbox.accepted) == 1)
        jobs.enqueue(SEND)
        jobs.enqueue(RECHECK)  # nothing due yet: runs and finds nothing
        jobs.enqueue(ESCALATE)
        jobs.enqueue(DRAFT)
        _until(lambda: not any(jobs.pending(name) for name in (SEND, RECHECK, ESCALATE, DRAFT)))
        time.sleep(1)  # the last one taken may still be running
        assert len(smtp_server.mailbox.accepted) == 1
        assert drafted() == [notice.id]
        with database.session() as session:
            again = session.get(Notice, notice.id)
            assert again is not None
            assert again.state is NoticeState.SENT
        assert jobs.dead_letters() == []
    finally:
        jobs.close()
