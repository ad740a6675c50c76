"""``survivor.notify`` (every 10 minutes): content-free news messages to survivors who
left an address. Needs the master key (addresses are stored encrypted) and an SMTP
server; without either it waits, with one warning."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from reclaim.store.envelope import KeyProblem, MasterKey
from reclaim.survivor.notify import notify_due

log = logging.getLogger(__name__)
NOTIFY = "survivor.notify"


def survivor_tasks(jobs: Jobs) -> Sequence[TaskSpec]:
    warned: set[str] = set()

    def notify() -> None:
        settings = jobs.settings
        try:
            master = MasterKey.load(settings.resolved_master_key_file)
        except KeyProblem:
            return  # no key: no address was ever stored
        if not settings.smtp_host:
            if "smtp" not in warned:
                warned.add("smtp")
                log.warning("news messages to survivors wait: no SMTP server (RECLAIM_SMTP_HOST)")
            return
        notify_due(jobs.database(), settings, master)

    return (TaskSpec(NOTIFY, notify, Queue.SEND, every_minutes=10),)
