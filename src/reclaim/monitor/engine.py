"""The monitor's engine: crawl each due source from its frontier, handle every medium met.

A source is *due* when it was never crawled, when its recrawl time has come, or when its
current round still has URLs queued (a crawl interrupted by a crash or a stop resumes).
Each crawl runs a few worker threads; every one claims a frontier URL, visits it, queues
the links that stay in scope, hands each medium to the :class:`MediaStep`, and records
the outcome -- so a kill at any moment loses only the requests in flight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError

from reclaim.banks.replica import Matchers, worker_matchers
from reclaim.config import Settings
from reclaim.media.limits import MediaLimits
from reclaim.media.thumbnail import Thumbnailer
from reclaim.monitor import frontier
from reclaim.monitor.crawl import Scope, Visit, visit
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import Resolver, system_resolver
from reclaim.monitor.media import Handler, InPlace, MediaOutcome, MediaStep
from reclaim.monitor.models import FrontierUrl, Source, UrlState
from reclaim.monitor.politeness import Gate, GateUnavailable, RobotsCache
from reclaim.monitor.recognise import Recogniser, Where
from reclaim.monitor.render import Renderer
from reclaim.monitor.shared_gate import host_gate
from reclaim.monitor.sources import Role
from reclaim.signals.hasher import FileHasher
from reclaim.store.base import utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.claims import PendingReleases, worker_id
from reclaim.store.db import Database
from reclaim.store.envelope import KeyProblem, MasterKey, MasterKeyMissing

log = logging.getLogger(__name__)

IDLE_WAIT = 0.2
"""Seconds a worker waits for a busy colleague's page to add more URLs."""


@dataclass
class Tally:
    """Counts of one run, for progress displays and tests (updated from many threads)."""

    pages: int = 0
    page_failures: int = 0
    skipped: int = 0
    media: int = 0
    hashed: int = 0
    queued: int = 0
    """Media handed to the ``hash`` and ``match`` queues."""
    media_failures: int = 0
    matches: int = 0
    sightings: int = 0
    """New sightings."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


@dataclass(frozen=True, slots=True)
class Plan:
    """A source as one crawl round sees it (a plain copy, safe to share across threads)."""

    id: int
    org_id: int
    round: int
    started: datetime | None
    scope: Scope
    min_delay: float
    render: bool = False
    media: str = "any"

    @classmethod
    def of(cls, source: Source) -> Plan:
        scope = Scope(
            start=source.url,
            same_host=source.same_host,
            path_prefix=source.path_prefix,
            max_depth=source.max_depth,
            max_pages=source.max_pages,
            obey_robots=source.obey_robots,
        )
        return cls(
            source.id,
            source.org_id,
            source.round,
            source.last_started,
            scope,
            source.min_delay,
            source.render,
            source.media,
        )


def thumbnail_store(settings: Settings) -> BlobStore | None:
    """Where new sightings' thumbnails are kept encrypted; None (said once) without a
    usable master key: the monitor then works on, keeping no pixels at all."""
    try:
        master = MasterKey.load(settings.resolved_master_key_file)
    except MasterKeyMissing as error:
        log.info("sightings keep no thumbnails: %s", error)
        return None
    except (KeyProblem, OSError) as error:  # a key file others may read, or unreadable
        log.warning("sightings keep no thumbnails: %s", error)
        return None
    return BlobStore(Path(settings.data_dir) / "blobs", master)


def thumbnails(settings: Settings) -> tuple[BlobStore | None, Thumbnailer | None]:
    """Where thumbnails are kept and what makes them: both None without a master key."""
    blobs = thumbnail_store(settings)
    if blobs is None:
        return None, None
    return blobs, Thumbnailer(MediaLimits.from_settings(settings))


Listener = Callable[[str, object], None]
"""Told of each page visit (``"page"``, a :class:`Visit`) and medium (``"media"``, a
:class:`MediaOutcome`)."""


class Monitor:
    """Crawls due sources. Close it (or use it as a context manager) to stop its workers."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        resolver: Resolver = system_resolver,
        matchers: Matchers | None = None,
        listener: Listener | None = None,
        handler: Handler | None = None,
        gate: Gate | None = None,
    ) -> None:
        """Media met are hashed and matched here (with ``matchers``, or the machine's
        snapshots), unless a ``handler`` takes them (the ``hash`` and ``match`` queues).
        ``gate``: the turns at sites (by default this process's, or the one workers share
        through Redis when ``RECLAIM_QUEUE_URL`` is set)."""
        self._database = database
        self._settings = settings
        limits = FetchLimits.from_settings(settings)
        self._fetcher = Fetcher(limits, resolver=resolver)
        self._robots = RobotsCache(self._fetcher, limits.user_agent)
        self._gate = gate or host_gate(settings)
        self._hasher: FileHasher | None = None
        self._thumbnailer: Thumbnailer | None = None
        self._own_matchers: Matchers | None = None
        if handler is None:  # hash and match here, at once
            if matchers is None:
                matchers = self._own_matchers = worker_matchers(settings)
            handler = self._in_place(matchers)
        self._media = MediaStep(
            database,
            self._fetcher,
            handler,
            workdir=Path(settings.data_dir) / "tmp" / "monitor",
            gate=self._gate,
        )
        self._listener = listener
        self._resolver = resolver
        self._renderer: Renderer | None = None
        self._renderer_lock = threading.Lock()
        self._stop = threading.Event()
        self._unreleased = PendingReleases(self._requeue)
        self.worker = worker_id()

    def _in_place(self, matchers: Matchers) -> InPlace:
        settings = self._settings
        self._hasher = FileHasher(
            settings, workers=max(1, min(settings.worker_count, settings.monitor_workers))
        )
        blobs, self._thumbnailer = thumbnails(settings)
        recogniser = Recogniser(
            self._database,
            matchers,
            self._hasher,
            blobs=blobs,
            thumbnailer=self._thumbnailer,
        )
        return InPlace(self._database, recogniser)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._renderer is not None:
            self._renderer.close()
        if self._hasher is not None:
            self._hasher.close()
        if self._thumbnailer is not None:
            self._thumbnailer.close()
        if self._own_matchers is not None:
            self._own_matchers.close()
        self._fetcher.close()

    def renderer(self) -> Renderer:
        """The browser for pages that need JavaScript, started on first use."""
        with self._renderer_lock:
            if self._renderer is None:
                self._renderer = Renderer(
                    self._fetcher.limits,
                    resolver=self._resolver,
                    executable=self._settings.chromium_path,
                    timeout=self._settings.render_timeout,
                )
            return self._renderer

    def _requeue(self, url_id: Hashable) -> None:
        with self._database.session() as session:
            frontier.requeue(session, url_id=cast(int, url_id))

    def stop(self) -> None:
        """Ask running crawls to stop after the URLs in hand (they resume next run)."""
        self._stop.set()

    # -- runs ---------------------------------------------------------------------------

    def run_once(self, source_ids: Sequence[int] | None = None) -> Tally:
        """Crawl every due source (or just these) until its round is done."""
        tally = Tally()
        with self._database.session() as session:
            released = frontier.release_abandoned(session, now=utcnow())
        if released:
            log.info("put back %d URLs claimed by workers that are gone", released)
        for source_id in self.due(source_ids):
            if self._stop.is_set():
                break
            self.crawl(source_id, tally)
        return tally

    def run_forever(self, poll_seconds: float | None = None) -> None:
        """Crawl due sources, then look again every ``poll_seconds``, until :meth:`stop`."""
        wait = poll_seconds if poll_seconds is not None else self._settings.monitor_poll_seconds
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(wait)

    def due(self, source_ids: Sequence[int] | None = None) -> list[int]:
        """Sources to crawl now: never crawled, recrawl due, or a round left unfinished."""
        now = utcnow()
        with self._database.session() as session:
            query = select(Source).where(Source.enabled.is_(True))
            if source_ids is not None:
                query = query.where(Source.id.in_(list(source_ids)))
            query = query.where(
                or_(
                    Source.round == 0,
                    Source.next_run <= now,
                    Source.id.in_(
                        select(FrontierUrl.source_id).where(
                            FrontierUrl.state.in_((UrlState.QUEUED, UrlState.CLAIMED))
                        )
                    ),
                )
            )
            return list(session.scalars(query.with_only_columns(Source.id).order_by(Source.id)))

    def crawl(self, source_id: int, tally: Tally | None = None) -> Tally:
        """Crawl one source with a few threads: start a round unless one is open, and work
        until it is done."""
        tally = tally or Tally()
        plan = self.open_round(source_id)
        log.info("crawling source %d (%s), round %d", plan.id, plan.scope.start, plan.round)
        workers = [
            threading.Thread(
                target=self.work, args=(plan, tally), kwargs={"wait": True}, name=f"crawl-{n}"
            )
            for n in range(self._settings.monitor_workers)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.close_round(source_id)
        return tally

    def open_round(self, source_id: int) -> Plan:
        """The source's open round, started now if it has none."""
        with self._database.session() as session:
            source = session.get(Source, source_id)
            if source is None:
                raise LookupError(f"no source {source_id}")
            if not frontier.round_open(session, source=source):
                frontier.start_round(session, source=source, now=utcnow())
            return Plan.of(source)

    def plan(self, source_id: int) -> Plan | None:
        """The source's current round as a plan (None: no such source, or it is paused)."""
        with self._database.session() as session:
            source = session.get(Source, source_id)
            return Plan.of(source) if source is not None and source.enabled else None

    def close_round(self, source_id: int) -> bool:
        """End the source's round if nothing is left in it, scheduling the next; whether
        it ended."""
        with self._database.session() as session:
            source = session.get(Source, source_id)
            if source is None or source.round == 0 or frontier.round_open(session, source=source):
                return False
            if source.last_finished is None or source.last_finished < (
                source.last_started or source.created
            ):
                now = utcnow()
                source.last_finished = now
                if source.recrawl_hours > 0:
                    source.next_run = now + timedelta(hours=source.recrawl_hours)
            return True

    # -- one worker ------------------------------------------------------------------

    def work(self, plan: Plan, tally: Tally, *, wait: bool, limit: int | None = None) -> bool:
        """Claim and visit the plan's URLs one at a time, up to ``limit``; with ``wait``,
        wait while colleagues' pages may still add URLs. Whether URLs are left queued."""
        done = 0
        while not self._stop.is_set() and (limit is None or done < limit):
            with self._database.session() as session:
                source = session.get(Source, plan.id)
                if source is None:
                    return False
                claimed = frontier.claim(session, source=source, worker=self.worker, now=utcnow())
                busy = not claimed and frontier.round_open(session, source=source)
            if not claimed:
                if not busy or not wait:
                    return False
                self._stop.wait(IDLE_WAIT)  # a colleague's page may still add URLs
                continue
            self._visit_safely(plan, claimed[0], tally)
            done += 1
        return True

    def _visit_safely(self, plan: Plan, url: FrontierUrl, tally: Tally) -> None:
        try:
            self._visit(plan, url, tally)
        except (DBAPIError, GateUnavailable):
            # The database or the shared gate's Redis is unreachable: give the URL back and
            # let the caller (a retried job, the next run) try again rather than lose the
            # page -- as soon as the database answers, if it does not now (nobody else may
            # take the URL while this live process holds it).
            try:
                self._requeue(url.id)
            except DBAPIError:
                self._unreleased.add(url.id)
            raise
        except Exception as error:  # one page's bug must not end the crawl; it is recorded
            log.exception("visiting %s failed", url.url)
            with self._database.session() as session:
                row = session.get(FrontierUrl, url.id)
                if row is not None:
                    detail = f"internal error: {type(error).__name__}: {error}"
                    frontier.finish(
                        session, url=row, state=UrlState.FAILED, now=utcnow(), detail=detail
                    )

    def _visit(self, plan: Plan, url: FrontierUrl, tally: Tally) -> None:
        robots = self._robots if plan.scope.obey_robots else None
        result = visit(
            url.url,
            Role(url.role),
            fetcher=self._fetcher,
            robots=robots,
            gate=self._gate,
            delay=plan.min_delay,
            renderer=self.renderer() if plan.render and Role(url.role) is Role.PAGE else None,
        )
        self._tell("page", result)
        if result.outcome in ("fetched", "image", "not-html"):
            tally.add(pages=1)
        elif result.outcome == "robots":
            tally.add(skipped=1)
        else:
            tally.add(page_failures=1)
            log.info("page %s failed: %s", url.url, result.detail)
        if url.depth < plan.scope.max_depth and result.found.links:
            links = [(u, r) for u, r in result.found.links if plan.scope.contains(u)]
            with self._database.session() as session:
                source = session.get(Source, plan.id)
                assert source is not None
                frontier.queue_links(session, source=source, parent=url, links=links, now=utcnow())
        where = Where(
            plan.org_id, plan.id, result.final_url or url.url, plan.started, plan.min_delay
        )
        unwanted = {"images": "video", "videos": "image"}.get(plan.media)
        for ref in result.found.media:
            if ref.kind == unwanted:
                continue
            if self._stop.is_set():  # put the page back: it is visited again on resuming
                with self._database.session() as session:
                    frontier.requeue(session, url_id=url.id)
                return
            outcome = self._media.handle(ref, where, body=result.body)
            self._count(outcome, tally)
        state = {
            "fetched": UrlState.DONE,
            "image": UrlState.DONE,
            "not-html": UrlState.DONE,
            "robots": UrlState.SKIPPED,
        }.get(result.outcome, UrlState.FAILED)
        with self._database.session() as session:
            row = session.get(FrontierUrl, url.id)
            if row is not None:
                frontier.finish(
                    session,
                    url=row,
                    state=state,
                    now=utcnow(),
                    status=result.status,
                    detail=result.detail,
                )

    def _count(self, outcome: MediaOutcome, tally: Tally) -> None:
        self._tell("media", outcome)
        tally.add(
            media=1,
            hashed=outcome.outcome == "hashed",
            queued=outcome.outcome == "queued",
            media_failures=outcome.outcome == "failed",
            matches=outcome.matches,
            sightings=outcome.new_sightings,
        )
        if outcome.new_sightings:
            log.info("new sighting: %s (%d banked item(s))", outcome.url, outcome.new_sightings)

    def _tell(self, what: str, event: Visit | MediaOutcome) -> None:
        if self._listener is not None:
            self._listener(what, event)
