"""Media through the hash and match stages (:mod:`reclaim.monitor.handoff`), as a
deployment's fetch, hash and match workers pass them on: the same sightings as hashing in
place, sealed copies, duplicate and lost tasks, dead workers, damaged copies, leftovers.

The stages run here one task at a time from a list (what the queues would carry: a
task name and a work id); ``tests/jobs`` runs them through real Huey queues."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from reclaim.banks.replica import MatcherCache
from reclaim.banks.shard_client import ShardedMatchers, ShardRouter
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.media.limits import MediaLimits
from reclaim.media.thumbnail import Thumbnailer
from reclaim.monitor import handoff
from reclaim.monitor.engine import Monitor
from reclaim.monitor.handoff import Handoff, MediaWorker
from reclaim.monitor.media import Met
from reclaim.monitor.models import MediaFile, MediaUrl, MediaWork, Sighting, Source, WorkStage
from reclaim.monitor.recognise import Recogniser, Where
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.spool import Spool
from reclaim.monitor.traps import url_key
from reclaim.signals.hasher import FileHasher
from reclaim.store.base import utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.envelope import MasterKey
from tests.media.sandbox_cannot_start import echo as dies
from tests.store.test_blob_disk_full import small_disk

from .conftest import Site, send
from .test_thumbnails import FOUND, _bank, _sightings, board, master, settings, video

__all__ = ["board", "master", "settings", "small_disk", "video"]  # fixtures shared


class Stages:
    """The hash and match stages, fed from a list as the queues would feed them."""

    def __init__(self, database, settings: Settings, master: MasterKey) -> None:
        self.tasks: list[tuple[str, int]] = []
        self.queues_read: list[str] = []  # reading a long queue is costly: only when needed
        self.spool = Spool(settings.resolved_spool_dir)
        self.database = database
        self._hasher = FileHasher(settings)
        self._thumbnailer = Thumbnailer(MediaLimits.from_settings(settings))
        scratch = Path(settings.data_dir) / "tmp" / "media"
        self.hashing = MediaWorker(
            database, self.spool, Recogniser(database, None, self._hasher), self.enqueue, scratch
        )
        matching = Recogniser(
            database,
            MatcherCache(),
            blobs=BlobStore(Path(settings.data_dir) / "blobs", master),
            thumbnailer=self._thumbnailer,
        )
        self.matching = MediaWorker(database, self.spool, matching, self.enqueue, scratch)

    def enqueue(self, task: str, work_id: int) -> None:
        self.tasks.append((task, work_id))

    def pending(self, task: str) -> set[int]:
        self.queues_read.append(task)
        return {work_id for name, work_id in self.tasks if name == task}

    def run(self) -> list[str]:
        """Run every task, those queued meanwhile too; the tasks run, in order."""
        ran = []
        while self.tasks:
            task, work_id = self.tasks.pop(0)
            stage = self.hashing.hash if task == handoff.HASH_TASK else self.matching.match
            stage(work_id)
            ran.append(task)
        return ran

    def resume(self, minutes: float = 2.0) -> handoff.Resumed:
        later = utcnow() + timedelta(minutes=minutes)
        return handoff.resume(self.database, self.spool, self.enqueue, self.pending, now=later)

    def close(self) -> None:
        self._hasher.close()
        self._thumbnailer.close()


@pytest.fixture
def stages(database, settings: Settings, master: MasterKey) -> Iterator[Stages]:
    made = Stages(database, settings, master)
    yield made
    made.close()


def _crawl(database, settings: Settings, stages: Stages, url: str, depth: int = 0) -> int:
    """Crawl ``url`` (and pages ``depth`` links away) as a fetch worker does; the
    source's id."""
    with database.session() as session:
        source = add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url=url,
            actor="test",
            options=SourceOptions(min_delay=0.0, max_depth=depth),
        )
        source_id = source.id
    again(database, settings, stages, source_id)
    return source_id


def again(database, settings: Settings, stages: Stages, source_id: int) -> None:
    """A round of the source's crawl, its media handed to ``stages``."""
    with database.session() as session:
        source = session.get(Source, source_id)
        assert source is not None
        source.next_run = utcnow() - timedelta(seconds=1)
    with Monitor(
        database, settings, handler=Handoff(database, stages.spool, stages.enqueue)
    ) as monitor:
        tally = monitor.run_once([source_id])
    assert tally.media_failures == 0 or tally.queued < tally.media


def _works(database) -> list[MediaWork]:
    with database.session() as session:
        return list(session.scalars(select(MediaWork).order_by(MediaWork.id)))


def _sighting_count(database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Sighting)) or 0)


def test_queued_media_are_found_and_kept_as_in_place(
    database, settings: Settings, stages: Stages, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    _crawl(database, settings, stages, board.url("/tb/"))
    works = _works(database)
    assert len(works) == 4
    assert {w.stage for w in works} == {WorkStage.HASH}
    assert [task for task, _ in stages.tasks] == [handoff.HASH_TASK] * 4
    spooled = list(stages.spool.root.iterdir())
    assert len(spooled) == 4
    for path in spooled:  # sealed, and readable by the owner only
        assert FOUND[1000:1100] not in path.read_bytes()
        assert path.stat().st_mode & 0o077 == 0
    ran = stages.run()
    assert ran.count(handoff.HASH_TASK) == 4
    assert ran.count(handoff.MATCH_TASK) == 4
    assert _works(database) == []
    assert list(stages.spool.root.iterdir()) == []
    with database.session() as session:
        found = {s.media_url.rsplit("/", 1)[-1]: s for s in _sightings(session, number)}
        assert set(found) == {"found.jpg?token=s3cret-token", "clip.mp4"}
        assert all(s.thumbnail_blob_id is not None for s in found.values())
        broken = session.scalars(select(MediaFile).where(MediaFile.error.is_not(None))).all()
        assert len(broken) == 1  # the damaged picture: its reason stored, nothing matched


def test_duplicate_and_lost_tasks_and_dead_workers_change_nothing(
    database, settings: Settings, stages: Stages, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    _crawl(database, settings, stages, board.url("/tb/"))
    first, second, *rest = stages.tasks
    # The first task's worker dies holding its work; the second task is lost with a
    # queue; every other task is delivered twice.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    owner = f"{socket.gethostname()[:100]}:{int(dead.stdout)}/{first[1]}"
    with database.session() as session:
        session.execute(
            update(MediaWork)
            .where(MediaWork.id == first[1])
            .values(claimed_by=owner, claimed_at=utcnow(), attempts=1)
        )
    stages.tasks = [task for task in rest for _ in range(2)]
    stages.run()
    assert {w.id for w in _works(database)} == {first[1], second[1]}
    early = stages.resume(minutes=0.2)  # the dead worker's work goes back at once; the
    assert (early.released, early.queued) == (1, 1)  # lost task's may just be slow
    resumed = stages.resume()
    assert (resumed.released, resumed.queued, resumed.given_up) == (0, 1, 0)
    stages.tasks += list(stages.tasks)  # and these delivered twice too
    stages.run()
    assert _works(database) == []
    assert list(stages.spool.root.iterdir()) == []
    with database.session() as session:
        names = sorted(s.media_url.rsplit("/", 1)[-1] for s in _sightings(session, number))
    assert names == ["clip.mp4", "found.jpg?token=s3cret-token"]  # each once
    stages.queues_read.clear()
    assert stages.resume() == handoff.Resumed()
    assert stages.queues_read == []  # no idle work: no queue was read


def test_a_damaged_copy_is_given_up_and_fetched_again_next_round(
    database,
    settings: Settings,
    stages: Stages,
    board: Site,
    tmp_path: Path,
    video: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    number = _bank(database, tmp_path, video)
    source_id = _crawl(database, settings, stages, board.url("/tb/"))
    for path in stages.spool.root.iterdir():  # every copy altered on the shared disk
        raw = bytearray(path.read_bytes())
        raw[-40] ^= 0x55
        path.write_bytes(bytes(raw))
    with caplog.at_level(logging.ERROR, logger="reclaim.monitor"):
        stages.run()
    given_up = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 4
    assert all("altered" in m for m in given_up)
    assert "s3cret" not in caplog.text  # the log never shows a URL's query
    assert _works(database) == []
    assert _sighting_count(database) == 0
    hits = len(board.hits)
    again(database, settings, stages, source_id)
    assert len(board.hits) > hits  # nothing was trusted: fetched afresh
    stages.run()
    with database.session() as session:
        assert len(_sightings(session, number)) == 2


def test_a_file_met_again_while_its_copy_waits_is_not_fetched_again(
    database, settings: Settings, stages: Stages, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    first = b'<html><body><img src="/tb/found.jpg?token=s3cret-token"><a href="/tb/again">'
    second = b'<html><body><img src="/tb/found.jpg?token=s3cret-token"></body></html>'
    board.routes["/tb/first"] = lambda h: send(h, 200, first, "text/html")
    board.routes["/tb/again"] = lambda h: send(h, 200, second, "text/html")
    before = len(board.hits)
    _crawl(database, settings, stages, board.url("/tb/first"), depth=1)
    assert [path for path, _ in board.hits[before:]].count("/tb/found.jpg") == 1
    works = [w for w in _works(database) if w.media_url.endswith("s3cret-token")]
    assert [w.spooled is not None for w in works] == [True, False]  # the second waits
    waiting = works[1].id
    assert stages.hashing.hash(waiting) is None  # its copy's hashes are not there yet
    assert {w.id: w.attempts for w in _works(database)}[waiting] == 0  # waiting is free
    stages.tasks = [t for t in stages.tasks if t[1] != waiting]
    stages.run()  # the copy's hash stage moves the waiting work on
    assert _works(database) == []
    with database.session() as session:
        pages = {s.page_url.rsplit("/", 1)[-1] for s in _sightings(session, number)}
    assert pages == {"first"}  # one sighting per file and address: the first page's


def test_work_that_keeps_failing_is_given_up_and_leftovers_are_removed(
    database, settings: Settings, stages: Stages, board: Site, tmp_path: Path, video: bytes
) -> None:
    _bank(database, tmp_path, video)
    _crawl(database, settings, stages, board.url("/tb/"))
    victim = stages.tasks[0][1]
    with database.session() as session:
        session.execute(
            update(MediaWork).where(MediaWork.id == victim).values(attempts=handoff.MAX_ATTEMPTS)
        )
    stages.tasks.clear()  # all lost
    orphan = stages.spool.put_bytes(b"a crash left this between spooling and recording")
    fresh = stages.spool.put_bytes(b"spooled a moment ago, its row not yet committed")
    old = stages.spool.root / orphan.name
    os.utime(old, (old.stat().st_atime - 7200, old.stat().st_mtime - 7200))
    resumed = stages.resume()
    assert (resumed.given_up, resumed.queued, resumed.leftovers) == (1, 3, 1)
    assert not stages.spool.exists(orphan.name)
    assert stages.spool.exists(fresh.name)
    assert victim not in {w.id for w in _works(database)}
    stages.run()
    assert len(list(stages.spool.root.iterdir())) == 1  # the fresh one, not yet old


def test_a_full_spool_fails_the_medium_clearly_and_remembers_nothing(
    database, small_disk: Path, tmp_path: Path
) -> None:
    queued: list[tuple[str, int]] = []
    step = Handoff(database, Spool(small_disk / "spool"), lambda *task: queued.append(task))
    big = tmp_path / "big.jpg"
    big.write_bytes(os.urandom(1024 * 1024))
    with database.session() as session:
        org_id = cases.get_org(session).id
    url = "http://127.0.0.2/m/big.jpg"
    met = Met(url, url_key(url), Where(org_id, None, "http://127.0.0.2/", fresh_after=None))
    outcome = step.file(met, big)
    assert (outcome.outcome, queued) == ("failed", [])
    assert "full: nothing was spooled" in outcome.detail
    assert _works(database) == []
    with database.session() as session:  # unknown: the next round fetches it again
        assert session.scalar(select(MediaUrl)) is None
    assert list((small_disk / "spool").iterdir()) == []


def test_media_wait_while_the_matcher_shards_are_away(
    database, settings: Settings, stages: Stages, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    _crawl(database, settings, stages, board.url("/tb/"))
    hashing = [item for item in stages.tasks if item[0] == handoff.HASH_TASK]
    stages.tasks = []
    for _, work_id in hashing:
        stages.hashing.hash(work_id)
    matching, stages.tasks = list(stages.tasks), []  # taken off the queue by the worker
    assert matching
    with socket.socket() as closed:  # a port nothing listens on: the shards are away
        closed.bind(("127.0.0.1", 0))
        away = f"http://127.0.0.1:{closed.getsockname()[1]}"
    shards = ShardedMatchers(ShardRouter([away], "s3cret", timeout=2.0))
    waiting = MediaWorker(
        database,
        stages.spool,
        Recogniser(database, shards),
        stages.enqueue,
        Path(settings.data_dir) / "tmp" / "media",
    )
    try:
        for _ in range(handoff.MAX_ATTEMPTS + 2):  # however often: never given up
            for _, work_id in matching:
                waiting.match(work_id)
    finally:
        shards.close()
    works = _works(database)
    assert {w.stage for w in works} == {WorkStage.MATCH}
    assert all(w.claimed_by is None and w.attempts == 0 for w in works)  # none counted
    assert _sighting_count(database) == 0
    resumed = stages.resume()  # queued again; the shards are back (the stages' matchers)
    assert resumed.queued == len(works)
    stages.run()
    assert _works(database) == []
    with database.session() as session:
        names = {s.media_url.rsplit("/", 1)[-1] for s in _sightings(session, number)}
    assert names == {"found.jpg?token=s3cret-token", "clip.mp4"}


def test_media_wait_while_decoding_workers_cannot_start(
    database, settings: Settings, stages: Stages, board: Site, tmp_path: Path, video: bytes
) -> None:
    number = _bank(database, tmp_path, video)
    _crawl(database, settings, stages, board.url("/tb/"))
    hashing, stages.tasks = list(stages.tasks), []  # taken off the queue by the worker
    broken = FileHasher(settings, task=dies)  # its workers die as they start
    waiting = MediaWorker(
        database,
        stages.spool,
        Recogniser(database, None, broken),
        stages.enqueue,
        Path(settings.data_dir) / "tmp" / "media",
    )
    try:
        for _ in range(2):  # waiting is never counted as an attempt (below)
            for _, work_id in hashing:
                waiting.hash(work_id)
    finally:
        broken.close()
    works = _works(database)
    assert len(works) == 4
    assert {w.stage for w in works} == {WorkStage.HASH}
    assert all(w.claimed_by is None and w.attempts == 0 for w in works)  # none counted
    with database.session() as session:  # and nothing was stored as unhashable
        assert session.scalar(select(func.count()).select_from(MediaFile)) == 0
    assert stages.resume().queued == 4  # decoding works again: the stages' own hasher
    stages.run()
    assert _works(database) == []
    with database.session() as session:
        names = {s.media_url.rsplit("/", 1)[-1] for s in _sightings(session, number)}
    assert names == {"found.jpg?token=s3cret-token", "clip.mp4"}
