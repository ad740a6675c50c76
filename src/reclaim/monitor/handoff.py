"""Media between the ``fetch``, ``hash`` and ``match`` queues.

A deployment's fetch workers only fetch: each medium a page names is sealed into the
media spool (:mod:`reclaim.monitor.spool`) and recorded as a :class:`MediaWork` row, and
its id is queued -- on ``hash`` if the file was never hashed, on ``match`` if its hashes
are stored. A hash worker decodes and hashes it in an isolated process and stores the
signals; a match worker matches them in its banks, records sightings (with a thumbnail
made from the spooled copy) and deletes the work and the copy. So decoding, which wants
cores, and the banks' index, which wants memory, can each run where they fit.

The row is the state, the queue only a nudge: a stage is claimed before it runs (a
duplicate task finds it claimed or done and does nothing) and everything a stage writes
is idempotent. ``media.resume`` (every minute, and when a hash worker starts) frees
claims whose worker is gone and queues their work again at once, queues again every work
no queue holds for a minute (a task lost with a killed worker or a Redis restart),
gives up a work after :data:`MAX_ATTEMPTS` claims, and removes spooled files no work
names (a crash between spooling and recording).

A medium met again while its first copy still waits to be hashed is not downloaded
again: its work waits (stage ``hash`` without a copy) and is moved on when the copy's
hashes are stored.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from reclaim.banks.shard_client import ShardUnavailable
from reclaim.media.sandbox import WorkerStartFailed
from reclaim.monitor.media import MediaOutcome, Met, remember_url_in
from reclaim.monitor.models import MediaFile, MediaWork, Source, WorkStage
from reclaim.monitor.recognise import AtHand, Recogniser, Unhashable, Where, shown
from reclaim.monitor.spool import Spool, Spooled, SpoolError
from reclaim.signals.base import Signal
from reclaim.store.base import utcnow
from reclaim.store.claims import PendingReleases, abandoned, worker_id
from reclaim.store.db import Database

log = logging.getLogger(__name__)

HASH_TASK = "media.hash"
MATCH_TASK = "media.match"
RESUME_TASK = "media.resume"
TASKS = {WorkStage.HASH: HASH_TASK, WorkStage.MATCH: MATCH_TASK}

LEASE = timedelta(minutes=30)
"""A claim by a worker of another machine is given up after this long."""
GRACE = timedelta(seconds=60)
"""A work no queue holds this long after it was queued is queued again (a task waiting
for its retry is held by none: queued twice, the second finds it done or claimed)."""
MAX_ATTEMPTS = 5
"""Claims of one stage before the work is given up (logged)."""
LEFTOVER_SECONDS = 3600.0
"""A spooled file no work names is removed once this old."""

Enqueue = Callable[[str, int], None]
"""Queue the task named for a work's id."""


class Handoff:
    """The fetch side: a :class:`~reclaim.monitor.media.Handler` that spools media and
    queues them for the hash and match workers."""

    def __init__(self, database: Database, spool: Spool, enqueue: Enqueue) -> None:
        self._database = database
        self._spool = spool
        self._enqueue = enqueue

    def has(self, session: Session, sha256: str) -> bool:
        if session.get(MediaFile, sha256) is not None:
            return True
        return _copy_holder(session, sha256) is not None

    def file(self, met: Met, path: Path) -> MediaOutcome:
        try:
            spooled = self._spool.put(path)
        except SpoolError as error:
            # The URL stays unknown: the next round fetches it again.
            log.error("media %s could not be spooled: %s", shown(met.url), error)
            return MediaOutcome(met.url, "failed", detail=str(error))
        try:
            with self._database.session() as session:
                remember_url_in(session, met, spooled.sha256)
                work = self._add(session, met, spooled.sha256, spooled)
        except BaseException:
            self._spool.remove(spooled.name)
            raise
        self._queue(work)
        return MediaOutcome(met.url, "queued", spooled.sha256)

    def known(self, met: Met, sha256: str) -> MediaOutcome:
        with self._database.session() as session:
            work = self._add(session, met, sha256, None)
        self._queue(work)
        return MediaOutcome(met.url, "queued", sha256)

    def _add(
        self, session: Session, met: Met, sha256: str, spooled: Spooled | None
    ) -> tuple[WorkStage, int]:
        hashed = session.get(MediaFile, sha256) is not None
        work = MediaWork(
            org_id=met.where.org_id,
            source_id=met.where.source_id,
            page_url=met.where.page_url,
            media_url=met.url,
            sha256=sha256,
            spooled=spooled.name if spooled is not None else None,
            spool_key=spooled.key if spooled is not None else None,
            size=spooled.size if spooled is not None else 0,
            stage=WorkStage.MATCH if hashed else WorkStage.HASH,
        )
        session.add(work)
        session.flush()
        return work.stage, work.id

    def _queue(self, work: tuple[WorkStage, int]) -> None:
        stage, work_id = work
        _nudge(self._enqueue, TASKS[stage], work_id)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A work as its claimant saw it (a plain copy, usable outside the session)."""

    id: int
    org_id: int
    source_id: int | None
    page_url: str
    media_url: str
    sha256: str
    spooled: Spooled | None
    query: Spooled | None
    created: datetime
    token: str

    @classmethod
    def of(cls, work: MediaWork, token: str) -> Claimed:
        spooled = query = None
        if work.spooled is not None and work.spool_key is not None:
            spooled = Spooled(work.spooled, work.spool_key, work.sha256, work.size)
        if work.query is not None and work.query_key is not None and work.query_sha256:
            query = Spooled(work.query, work.query_key, work.query_sha256, work.query_size)
        return cls(
            work.id,
            work.org_id,
            work.source_id,
            work.page_url,
            work.media_url,
            work.sha256,
            spooled,
            query,
            work.created,
            token,
        )


class MediaWorker:
    """The hash and match side: runs one stage of a work, given its id."""

    def __init__(
        self,
        database: Database,
        spool: Spool,
        recogniser: Recogniser,
        enqueue: Enqueue,
        scratch: Path,
    ) -> None:
        self._database = database
        self._spool = spool
        self._recogniser = recogniser
        self._enqueue = enqueue
        self._scratch = scratch
        self._unreleased = PendingReleases(self._release)

    # -- hashing ------------------------------------------------------------------------

    def hash(self, work_id: int) -> None:
        """Hash the work's file unless its hashes are stored, then queue its match."""
        with self._claimed(work_id, WorkStage.HASH) as work:
            if work is None:
                return
            query = None
            if not self._hashed(work.sha256):
                if work.spooled is None:
                    self._await_copy(work)
                    return
                try:
                    with self._spool.opened(work.spooled, self._scratch) as path:
                        signals = self._recogniser.hash_file(work.media_url, path, work.sha256)
                except Unhashable:
                    pass  # the reason is stored with the file's SHA-256: matching skips it
                except SpoolError as error:
                    self._give_up(work.id, f"its spooled copy cannot be read: {error}")
                    return
                except WorkerStartFailed as error:  # the machine's fault, not the file's
                    self._wait(work, f"decoding workers: {error}")
                    return
                else:
                    query = self._spool_query(work, signals)
            self._advance(work, query)

    def _spool_query(self, work: Claimed, signals: list[Signal]) -> Spooled | None:
        """The signals as hashed, with their views' pixels, for the match stage (None if
        they cannot be spooled: it then matches the stored hashes, without them)."""
        try:
            return self._spool.put_bytes(pickle.dumps(signals, protocol=pickle.HIGHEST_PROTOCOL))
        except SpoolError as error:
            log.warning("media work %d: the query is not spooled: %s", work.id, error)
            return None

    def _hashed(self, sha256: str) -> bool:
        with self._database.session() as session:
            return session.get(MediaFile, sha256) is not None

    def _wait(self, work: Claimed, what: str) -> None:
        """Give the work back to wait for ``what`` (logged), the claim not counted as an
        attempt: ``media.resume`` queues it again (after ``GRACE``)."""
        log.warning("media work %d waits for %s", work.id, what)
        with self._database.session() as session:
            _unclaim(session, work)

    def _await_copy(self, work: Claimed) -> None:
        """A work without a copy of its own: wait for another work of the file that has
        one (it moves this one on), or give up when there is none."""
        with self._database.session() as session:
            if _copy_holder(session, work.sha256) is not None:
                _unclaim(session, work)
                return
        self._give_up(work.id, "no copy of the file is left to hash")

    def _advance(self, work: Claimed, query: Spooled | None) -> None:
        """Move a hashed work on to matching, with the works that waited for its hashes."""
        with self._database.session() as session:
            moved = session.execute(
                update(MediaWork)
                .where(MediaWork.id == work.id, MediaWork.claimed_by == work.token)
                .values(
                    stage=WorkStage.MATCH,
                    claimed_by=None,
                    claimed_at=None,
                    attempts=0,
                    queued=utcnow(),
                    query=query.name if query is not None else None,
                    query_key=query.key if query is not None else None,
                    query_sha256=query.sha256 if query is not None else None,
                    query_size=query.size if query is not None else 0,
                )
            ).rowcount  # type: ignore[attr-defined]
            if not moved and query is not None:  # no longer ours (freed as abandoned)
                self._spool.remove(query.name)
            waiting = list(
                session.scalars(
                    select(MediaWork.id).where(
                        MediaWork.sha256 == work.sha256,
                        MediaWork.stage == WorkStage.HASH,
                        MediaWork.spooled.is_(None),
                        MediaWork.claimed_by.is_(None),
                    )
                )
            )
        self._queue(MATCH_TASK, work.id)
        for other in waiting:
            self._queue(HASH_TASK, other)

    # -- matching -----------------------------------------------------------------------

    def match(self, work_id: int) -> None:
        """Match the work's stored hashes, record sightings, then delete the work."""
        with self._claimed(work_id, WorkStage.MATCH) as work:
            if work is None:
                return
            signals = self._query(work)
            if signals is None:
                try:
                    signals = self._recogniser.stored(work.sha256)
                except Unhashable:
                    signals = []  # it could not be hashed: nothing to match
            if signals is None:
                log.warning("media work %d: the file's hashes are gone", work.id)
                signals = []
            if signals:
                with self._database.session() as session:
                    source_id = work.source_id
                    if source_id is not None and session.get(Source, source_id) is None:
                        source_id = None  # the source was removed meanwhile
                where = Where(work.org_id, source_id, work.page_url, fresh_after=None)
                try:
                    done = self._recogniser.record(
                        work.media_url,
                        work.sha256,
                        signals,
                        where,
                        self._copy(work),
                        since=work.created,
                    )
                except ShardUnavailable as error:  # not the work's fault
                    self._wait(work, f"the matcher shards: {error}")
                    return
                if done.new_sightings:
                    log.info(
                        "new sighting: %s (%d banked item(s))",
                        shown(work.media_url),
                        done.new_sightings,
                    )
            self._finish(work)

    def _query(self, work: Claimed) -> list[Signal] | None:
        """The signals the hash stage spooled, views and all (None: there are none)."""
        if work.query is None:
            return None
        try:
            # Sealed with a key only the database holds, written by a hash worker: data
            # as trusted as the database's own.
            signals = pickle.loads(self._spool.read_bytes(work.query))  # noqa: S301
        except (SpoolError, pickle.UnpicklingError, EOFError, AttributeError) as error:
            log.warning("media work %d: the spooled query cannot be read: %s", work.id, error)
            return None
        if not isinstance(signals, list) or not all(isinstance(s, Signal) for s in signals):
            log.warning("media work %d: the spooled query is not a list of signals", work.id)
            return None
        return signals

    def _copy(self, work: Claimed) -> AtHand:
        """The spooled copy, opened only when a thumbnail is to be made of it."""
        spooled = work.spooled
        if spooled is None:
            return None

        @contextlib.contextmanager
        def opened() -> Iterator[Path | None]:
            with contextlib.ExitStack() as stack:
                try:
                    path = stack.enter_context(self._spool.opened(spooled, self._scratch))
                except SpoolError as error:  # no thumbnail, the sightings stand
                    log.warning("media work %d: no thumbnail: %s", work.id, error)
                    path = None
                yield path

        return opened

    def _finish(self, work: Claimed) -> None:
        with self._database.session() as session:
            session.execute(
                delete(MediaWork).where(MediaWork.id == work.id, MediaWork.claimed_by == work.token)
            )
        # After the row: a crash between leaves leftovers, which media.resume removes.
        for spooled in (work.spooled, work.query):
            if spooled is not None:
                self._spool.remove(spooled.name)

    # -- claims ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _claimed(self, work_id: int, stage: WorkStage) -> Iterator[Claimed | None]:
        """The work, claimed for ``stage`` (None: gone, at another stage, or claimed);
        an error releases the claim for the task's retry."""
        token = f"{worker_id()}/{work_id}"
        with self._database.session() as session:
            taken = session.execute(
                update(MediaWork)
                .where(
                    MediaWork.id == work_id,
                    MediaWork.stage == stage,
                    MediaWork.claimed_by.is_(None),
                )
                .values(claimed_by=token, claimed_at=utcnow(), attempts=MediaWork.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            row = session.get(MediaWork, work_id) if taken.rowcount == 1 else None  # type: ignore[attr-defined]
            claimed = Claimed.of(row, token) if row is not None else None
        if claimed is None:
            yield None
            return
        try:
            yield claimed
        except BaseException:
            try:
                self._release((work_id, token))
            except Exception:  # the database is away: given back once it answers
                self._unreleased.add((work_id, token))
            raise

    def _release(self, claim: Hashable) -> None:
        work_id, token = cast(tuple[int, str], claim)
        with self._database.session() as session:
            session.execute(
                update(MediaWork)
                .where(MediaWork.id == work_id, MediaWork.claimed_by == token)
                .values(claimed_by=None, claimed_at=None)
            )

    def _give_up(self, work_id: int, why: str) -> None:
        give_up(self._database, self._spool, work_id, why)

    def _queue(self, task: str, work_id: int) -> None:
        _nudge(self._enqueue, task, work_id)


def _unclaim(session: Session, work: Claimed) -> None:
    """Give the work back without counting the claim as an attempt (it waited)."""
    session.execute(
        update(MediaWork)
        .where(MediaWork.id == work.id, MediaWork.claimed_by == work.token)
        .values(claimed_by=None, claimed_at=None, attempts=MediaWork.attempts - 1)
    )


def _copy_holder(session: Session, sha256: str) -> int | None:
    """A work of the file ``sha256`` that holds a copy of it still to be hashed."""
    return session.scalar(
        select(MediaWork.id)
        .where(
            MediaWork.sha256 == sha256,
            MediaWork.stage == WorkStage.HASH,
            MediaWork.spooled.is_not(None),
        )
        .limit(1)
    )


def _nudge(enqueue: Enqueue, task: str, work_id: int) -> None:
    """Queue ``task`` for the work; if the queue is away, media.resume queues it later."""
    try:
        enqueue(task, work_id)
    except Exception as error:
        log.warning("could not queue media work %d (%s): it is queued later", work_id, error)


def give_up(database: Database, spool: Spool, work_id: int, why: str) -> None:
    """Drop a work that cannot be done (logged): its URL is fetched again next round."""
    with database.session() as session:
        work = session.get(MediaWork, work_id)
        if work is None:
            return
        log.error("media work %d (%s) given up: %s", work.id, shown(work.media_url), why)
        names = [name for name in (work.spooled, work.query) if name is not None]
        session.delete(work)
    for name in names:
        spool.remove(name)


def outstanding(session: Session) -> int:
    """How many media wait to be hashed or matched."""
    return int(session.scalar(select(func.count()).select_from(MediaWork)) or 0)


@dataclass
class Resumed:
    """What one :func:`resume` did."""

    released: int = 0
    queued: int = 0
    given_up: int = 0
    leftovers: int = 0


def resume(
    database: Database,
    spool: Spool,
    enqueue: Enqueue,
    pending: Callable[[str], set[int]],
    *,
    now: datetime | None = None,
) -> Resumed:
    """Put lost media work back on its way (see the module's description); ``pending``
    names the work ids a task waits for in the queue."""
    now = now or utcnow()
    done = Resumed()
    with database.session() as session:
        claims = session.execute(
            select(MediaWork.id, MediaWork.claimed_by, MediaWork.claimed_at).where(
                MediaWork.claimed_by.is_not(None)
            )
        ).all()
        freed = []  # their tasks died with their workers: no need to wait
        for work_id, owner, claimed_at in claims:
            if abandoned(owner, claimed_at, now=now, lease=LEASE):
                released = session.execute(
                    update(MediaWork)
                    .where(MediaWork.id == work_id, MediaWork.claimed_by == owner)
                    .values(claimed_by=None, claimed_at=None)
                ).rowcount  # type: ignore[attr-defined]
                if released:
                    freed.append(work_id)
        done.released = len(freed)
        idle = list(
            session.execute(
                select(MediaWork.id, MediaWork.stage, MediaWork.attempts).where(
                    MediaWork.claimed_by.is_(None),
                    or_(MediaWork.queued < now - GRACE, MediaWork.id.in_(freed)),
                )
            ).all()
        )
    # Reading a queue is O(its length): only the queues of stages with idle work.
    waiting = {stage: pending(TASKS[stage]) for stage in {stage for _, stage, _ in idle}}
    for work_id, stage, attempts in idle:
        if attempts >= MAX_ATTEMPTS:
            give_up(database, spool, work_id, f"{attempts} attempts at its {stage} stage failed")
            done.given_up += 1
        elif work_id not in waiting[stage]:
            with database.session() as session:
                session.execute(update(MediaWork).where(MediaWork.id == work_id).values(queued=now))
            enqueue(TASKS[stage], work_id)
            done.queued += 1
    with database.session() as session:
        named = {
            name
            for row in session.execute(select(MediaWork.spooled, MediaWork.query))
            for name in row
            if name
        }
    for entry in spool.leftovers(keep=named, older_than=LEFTOVER_SECONDS):
        spool.discard(entry)
        done.leftovers += 1
    if done.released or done.queued or done.given_up or done.leftovers:
        log.info(
            "media work: %d claims freed, %d queued again, %d given up, %d spooled files removed",
            done.released,
            done.queued,
            done.given_up,
            done.leftovers,
        )
    return done
