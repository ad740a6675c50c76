"""The monitor's tasks: scheduling and crawling on ``fetch``, media on ``hash`` and ``match``.

``monitor.schedule`` runs every minute: it puts back URLs claimed by workers that are gone,
starts a round for each source that is due, and queues crawl tasks for every source with
URLs waiting, up to ``RECLAIM_MONITOR_WORKERS`` each. A ``monitor.crawl`` task visits a
batch of its source's URLs (fetch, extract, spool each medium) and queues its own
continuation while URLs are left; the last one to find the round empty closes it and
schedules the next. The frontier in the database is the real state, so a task lost with
its worker loses nothing: the next ``schedule`` picks it up.

Each medium goes on as ``media.hash`` (decode and hash a new file, on ``hash``) and
``media.match`` (match and record sightings, on ``match``); ``media.resume`` puts back
the media work lost with a worker (:mod:`reclaim.monitor.handoff`). Fetch workers then
need neither decoding processes nor the banks in memory, and each stage runs where it
fits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from reclaim.banks.replica import Matchers, worker_matchers
from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from reclaim.media.thumbnail import Thumbnailer
from reclaim.monitor import frontier, handoff
from reclaim.monitor.engine import Monitor, Tally, thumbnails
from reclaim.monitor.handoff import Handoff, MediaWorker
from reclaim.monitor.recognise import Recogniser
from reclaim.monitor.spool import Spool
from reclaim.signals.hasher import FileHasher
from reclaim.store.base import utcnow

BATCH = 20
"""URLs one crawl task visits before handing over to its continuation."""
SCHEDULE = "monitor.schedule"
CRAWL = "monitor.crawl"


def monitor_tasks(jobs: Jobs) -> Sequence[TaskSpec]:
    settings = jobs.settings

    def spool() -> Spool:
        return Spool(settings.resolved_spool_dir)

    def monitor() -> Monitor:
        def make() -> Monitor:
            handler = Handoff(jobs.database(), spool(), jobs.enqueue)
            return Monitor(jobs.database(), settings, handler=handler)

        return jobs.resource("monitor", make, Monitor.close)

    def top_up(source_id: int, minimum: int) -> None:
        waiting = Counter(args[0] for args in jobs.pending(CRAWL))[source_id]
        for _ in range(max(minimum, settings.monitor_workers - waiting)):
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

    def worker(recogniser: Recogniser) -> MediaWorker:
        scratch = Path(settings.data_dir) / "tmp" / "media"
        return MediaWorker(jobs.database(), spool(), recogniser, jobs.enqueue, scratch)

    def hashing() -> MediaWorker:
        def make() -> tuple[MediaWorker, FileHasher]:
            # One decoding process per core at most, however many threads take tasks.
            workers = max(1, min(settings.worker_count, settings.jobs_workers))
            hasher = FileHasher(settings, workers=workers)
            return worker(Recogniser(jobs.database(), None, hasher)), hasher

        made = jobs.resource("media.hashing", make, lambda made: made[1].close())
        return made[0]

    def matching() -> MediaWorker:
        def make() -> tuple[MediaWorker, Thumbnailer | None, Matchers]:
            blobs, thumbnailer = thumbnails(settings)
            matchers = worker_matchers(settings)
            recogniser = Recogniser(jobs.database(), matchers, blobs=blobs, thumbnailer=thumbnailer)
            return worker(recogniser), thumbnailer, matchers

        def close(made: tuple[MediaWorker, Thumbnailer | None, Matchers]) -> None:
            if made[1] is not None:
                made[1].close()
            made[2].close()

        return jobs.resource("media.matching", make, close)[0]

    def pending(task: str) -> set[int]:
        return {int(args[0]) for args in jobs.pending(task) if args}

    def resume() -> None:
        handoff.resume(jobs.database(), spool(), jobs.enqueue, pending)

    return (
        TaskSpec(SCHEDULE, schedule, Queue.FETCH, every_minutes=1),
        TaskSpec(CRAWL, crawl, Queue.FETCH, retries=3, retry_delay=30.0),
        TaskSpec(handoff.HASH_TASK, lambda work_id: hashing().hash(work_id), Queue.HASH),
        TaskSpec(handoff.MATCH_TASK, lambda work_id: matching().match(work_id), Queue.MATCH),
        TaskSpec(handoff.RESUME_TASK, resume, Queue.HASH, every_minutes=1),
    )
