"""The takedown tasks, run by every worker:

- ``takedown.draft`` (every minute): drafts notices for newly confirmed sightings of cases
  that consented to takedown notices;
- ``takedown.send`` (every minute): marks sends abandoned by a dead sender uncertain, then
  sends what the outbox holds (nothing without an SMTP server configured: one warning);
- ``takedown.recheck`` (every 10 minutes): re-checks reported URLs that are due and drafts
  for re-uploads;
- ``takedown.escalate`` (every 10 minutes): moves notices whose time ran out on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from reclaim.banks.replica import worker_matchers
from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.signals.hasher import FileHasher
from reclaim.takedown import outbox, service
from reclaim.takedown.recheck import Rechecker

log = logging.getLogger(__name__)

DRAFT = "takedown.draft"
SEND = "takedown.send"
RECHECK = "takedown.recheck"
ESCALATE = "takedown.escalate"


class _Checking:
    """The re-checker with the fetcher, hasher and matchers it owns."""

    def __init__(self, jobs: Jobs) -> None:
        self.fetcher = Fetcher(FetchLimits.from_settings(jobs.settings))
        self.hasher = FileHasher(jobs.settings)
        self.matchers = worker_matchers(jobs.settings)
        self.rechecker = Rechecker(
            jobs.database(),
            jobs.settings,
            fetcher=self.fetcher,
            hasher=self.hasher,
            matchers=self.matchers,
        )

    def close(self) -> None:
        self.fetcher.close()
        self.hasher.close()
        self.matchers.close()


def takedown_tasks(jobs: Jobs) -> Sequence[TaskSpec]:
    warned: set[str] = set()

    def draft() -> None:
        with jobs.database().session() as session:
            service.draft_confirmed(session, settings=jobs.settings)

    def send() -> None:
        if not jobs.settings.smtp_host:
            if "smtp" not in warned:
                warned.add("smtp")
                log.warning("approved notices wait unsent: no SMTP server (RECLAIM_SMTP_HOST)")
            return
        tally = outbox.send_due(jobs.database(), jobs.settings)
        if tally.uncertain:
            log.warning("%d notice(s) need a person: sent or not is uncertain", tally.uncertain)

    def recheck() -> None:
        checking = jobs.resource("takedown.recheck", lambda: _Checking(jobs), _Checking.close)
        checking.rechecker.run()

    def escalate() -> None:
        with jobs.database().session() as session:
            service.escalate_due(session, settings=jobs.settings)

    return (
        TaskSpec(DRAFT, draft, Queue.SEND, every_minutes=1),
        TaskSpec(SEND, send, Queue.SEND, every_minutes=1),
        TaskSpec(RECHECK, recheck, Queue.RECHECK, every_minutes=10),
        TaskSpec(ESCALATE, escalate, Queue.SEND, every_minutes=10),
    )
