"""The monitor's tasks: a periodic ``monitor.schedule`` and ``monitor.crawl`` batches.

``monitor.schedule`` runs every minute: it puts back URLs claimed by workers that are gone,
starts a round for each source that is due, and queues crawl tasks for every source with
URLs waiting, up to ``RECLAIM_MONITOR_WORKERS`` each. A ``monitor.crawl`` task visits a
batch of its source's URLs (fetch, extract, hash, match, record -- each page with its
media) and queues its own continuation while URLs are left; the last one to find the
round empty closes it and schedules the next. The frontier in the database is the real
state, so a task lost with its worker loses nothing: the next ``schedule`` picks it up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from reclaim.monitor import frontier
from reclaim.monitor.engine import Monitor, Tally
from reclaim.store.base import utcnow

BATCH = 20
"""URLs one crawl task visits before handing over to its continuation."""
SCHEDULE = "monitor.schedule"
CRAWL = "monitor.crawl"


def monitor_tasks(jobs: Jobs) -> Sequence[TaskSpec]:
    def monitor() -> Monitor:
        return jobs.resource(
            "monitor", lambda: Monitor(jobs.database(), jobs.settings), Monitor.close
        )

    def top_up(source_id: int, minimum: int) -> None:
        waiting = Counter(args[0] for args in jobs.pending(CRAWL))[source_id]
        for _ in range(max(minimum, jobs.settings.monitor_workers - waiting)):
            jobs.enqueue(CRAWL, source_id)

    def schedule() -> None:
        crawler = monitor()
        with jobs.database().session() as session:
            frontier.release_abandoned(session, now=utcnow())
        for source_id in crawler.due():
            crawler.open_round(source_id)
            top_up(source_id, 0)

    def crawl(source_id: int) -> None:
        crawler = monitor()
        plan = crawler.plan(source_id)
        if plan is None:
            return
        if crawler.work(plan, Tally(), wait=False, limit=BATCH):
            top_up(source_id, 1)
        else:
            crawler.close_round(source_id)

    return (
        TaskSpec(SCHEDULE, schedule, Queue.FETCH, every_minutes=1),
        TaskSpec(CRAWL, crawl, Queue.FETCH, retries=3, retry_delay=30.0),
    )
