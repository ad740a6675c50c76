"""The media step: fetch a picture or video a page names, then have it recognised.

- A media URL already checked in this round of the crawl is not fetched again; one
  checked in an earlier round is asked for with its validators (``If-None-Match``,
  ``If-Modified-Since``), and a ``304`` reuses what is known.
- What is fetched goes to a :class:`Handler`: :class:`InPlace` hashes and matches it at
  once (:mod:`reclaim.monitor.recognise`); a deployment's fetch workers hand it to the
  ``hash`` and ``match`` queues instead (:mod:`reclaim.monitor.handoff`).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reclaim.monitor.errors import FetchFailed, TooLarge, Unreachable
from reclaim.monitor.extract import MediaRef
from reclaim.monitor.fetch import Fetcher, Kind
from reclaim.monitor.models import MediaFile, MediaUrl
from reclaim.monitor.politeness import Gate, HostGate
from reclaim.monitor.recognise import Recogniser, Unhashable, Where, shown
from reclaim.monitor.streams import assemble, is_dash, is_hls
from reclaim.monitor.traps import normalise, url_key
from reclaim.store.base import utcnow
from reclaim.store.db import Database
from reclaim.store.digest import file_sha256
from reclaim.store.upsert import insert_ignoring_conflicts

__all__ = ["Handler", "InPlace", "MediaOutcome", "MediaStep", "Met", "Where", "validators"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MediaOutcome:
    """What became of one media URL."""

    url: str
    outcome: str
    """``hashed`` (a new file), ``known`` (a file hashed before), ``queued`` (handed to
    the hash and match workers), ``failed`` (not fetched, or not a picture or video we
    could decode)."""
    sha256: str | None = None
    matches: int = 0
    new_sightings: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Met:
    """A media URL met on a page, and the validators its server answered with."""

    url: str
    key: str
    """The URL's key (:func:`reclaim.monitor.traps.url_key`)."""
    where: Where
    etag: str | None = None
    modified: str | None = None


class Handler(Protocol):
    """What becomes of media once fetched."""

    def has(self, session: Session, sha256: str) -> bool:
        """Whether the file ``sha256``'s hashes are stored (or on their way): a URL
        known to serve it need not be fetched again this round."""
        ...

    def file(self, met: Met, path: Path) -> MediaOutcome:
        """The file just downloaded to ``path`` (it is removed after this returns):
        remember the URL, have the file hashed if new, match it, record sightings."""
        ...

    def known(self, met: Met, sha256: str) -> MediaOutcome:
        """A file not downloaded now (fresh this round, or ``304``) whose hashes are
        stored or on their way: match them, record sightings."""
        ...


class MediaStep:
    """Fetch media and hand them to a :class:`Handler`; thread-safe."""

    def __init__(
        self,
        database: Database,
        fetcher: Fetcher,
        handler: Handler,
        workdir: Path,
        gate: Gate | None = None,
    ) -> None:
        self._database = database
        self._fetcher = fetcher
        self._handler = handler
        self._workdir = workdir
        self._gate: Gate = gate or HostGate(delay=0.0)
        self._busy: dict[str, list[Any]] = {}  # url key -> [lock, users]
        self._busy_guard = threading.Lock()
        workdir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _alone(self, key: str) -> Iterator[None]:
        """One thread at a time per media URL: a file two pages name at once is fetched
        by the first, and the second finds it fresh."""
        with self._busy_guard:
            entry = self._busy.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._busy_guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._busy[key]

    def handle(self, ref: MediaRef, where: Where, body: bytes | None = None) -> MediaOutcome:
        """Handle the media ``ref`` met at ``where`` (``body``: its bytes, when the page
        fetch already got them)."""
        url = normalise(ref.url)
        if url is None:
            return MediaOutcome(ref.url, "failed", detail="not a usable http(s) URL")
        key = url_key(url)
        with self._alone(key):
            return self._handle(Met(url, key, where), body)

    def _handle(self, met: Met, body: bytes | None) -> MediaOutcome:
        url, where = met.url, met.where
        with self._database.session() as session:
            known = session.scalar(select(MediaUrl).where(MediaUrl.url_key == met.key))
            if known is not None and (
                known.sha256 is None or not self._handler.has(session, known.sha256)
            ):
                known = None  # nothing usable is known of it: fetch it afresh
            if (
                known is not None
                and known.sha256 is not None
                and where.fresh_after is not None
                and known.checked >= where.fresh_after
            ):
                return self._handler.known(met, known.sha256)
            conditional = validators(known)
        with tempfile.TemporaryDirectory(dir=self._workdir) as scratch:
            path = Path(scratch) / "media"
            try:
                if body is not None:
                    path.write_bytes(body)
                    status = 200
                else:
                    with self._gate.turn(url, where.delay):
                        fetched = self._fetcher.download(url, path, headers=conditional)
                    status = fetched.status
                    met = Met(
                        url,
                        met.key,
                        where,
                        fetched.headers.get("etag"),
                        fetched.headers.get("last-modified"),
                    )
                    if status == 200 and _is_stream(path):
                        path = self._assemble(path, fetched.final_url, where)
            except FetchFailed as error:
                remember_url(self._database, met, None, error=str(error))
                return MediaOutcome(url, "failed", detail=str(error))
            if status == 304 and known is not None and known.sha256 is not None:
                etag = met.etag or known.etag
                remember_url(
                    self._database, Met(url, met.key, where, etag, met.modified), known.sha256
                )
                return self._handler.known(met, known.sha256)
            if status != 200:
                remember_url(self._database, met, None, error=f"HTTP {status}")
                return MediaOutcome(url, "failed", detail=f"HTTP {status}")
            return self._handler.file(met, path)

    def _assemble(self, manifest: Path, url: str, where: Where) -> Path:
        """The first segments of the stream ``manifest`` describes, joined into one file."""
        if manifest.stat().st_size > self._fetcher.limits.page_bytes:
            raise TooLarge(f"{url}: the playlist is larger than a page may be")

        def download(part: str, target: Path) -> int:
            try:
                with self._gate.turn(part, where.delay):
                    fetched = self._fetcher.download(part, target)
            except FetchFailed as error:  # say which stream the segment belongs to
                raise type(error)(f"a segment of the stream {url}: {error}") from None
            if fetched.status != 200:
                raise Unreachable(f"{part}: HTTP {fetched.status}")
            return fetched.size

        def fetch_text(playlist: str) -> bytes:
            with self._gate.turn(playlist, where.delay):
                fetched = self._fetcher.get(playlist, accept={Kind.PAGE, Kind.VIDEO, Kind.OTHER})
            if fetched.status != 200 or fetched.body is None:
                raise Unreachable(f"{playlist}: HTTP {fetched.status}")
            return fetched.body

        video = manifest.with_name("stream")
        count = assemble(
            manifest.read_bytes(),
            url,
            video,
            download,
            max_bytes=self._fetcher.limits.video_bytes,
            fetch_text=fetch_text,
        )
        log.info("joined %d segments of the stream %s", count, shown(url))
        return video


class InPlace:
    """A :class:`Handler` that hashes and matches at once, in this process."""

    def __init__(self, database: Database, recogniser: Recogniser) -> None:
        self._database = database
        self._recogniser = recogniser

    def has(self, session: Session, sha256: str) -> bool:
        return session.get(MediaFile, sha256) is not None

    def file(self, met: Met, path: Path) -> MediaOutcome:
        sha256 = file_sha256(path)
        with self._database.session() as session:
            stored = self.has(session, sha256)
        if stored:
            remember_url(self._database, met, sha256)
            return self._match(met, sha256, path)
        # The file's hashes are stored before its URL is remembered: a crash in between
        # leaves the URL unknown, so it is fetched and hashed again, never lost.
        try:
            signals = self._recogniser.hash_file(met.url, path, sha256)
        except Unhashable as error:
            remember_url(self._database, met, sha256)
            return MediaOutcome(met.url, "failed", sha256, detail=str(error))
        remember_url(self._database, met, sha256)
        done = self._recogniser.record(met.url, sha256, signals, met.where, path)
        return MediaOutcome(met.url, "hashed", sha256, done.matches, done.new_sightings)

    def known(self, met: Met, sha256: str) -> MediaOutcome:
        return self._match(met, sha256, None)

    def _match(self, met: Met, sha256: str, media: Path | None) -> MediaOutcome:
        """Match a file hashed before; ``media``: its bytes, when this fetch brought them."""
        try:
            signals = self._recogniser.stored(sha256)
        except Unhashable as error:
            return MediaOutcome(met.url, "failed", sha256, detail=str(error))
        if signals is None:
            return MediaOutcome(met.url, "failed", sha256, detail="hashes of the file are gone")
        done = self._recogniser.record(met.url, sha256, signals, met.where, media)
        return MediaOutcome(met.url, "known", sha256, done.matches, done.new_sightings)


def remember_url(
    database: Database, met: Met, sha256: str | None, *, error: str | None = None
) -> None:
    """Remember what ``met``'s URL answered: the file it served (``sha256``) with its
    validators, or why it could not be fetched."""
    with database.session() as session:
        remember_url_in(session, met, sha256, error=error)


def remember_url_in(
    session: Session, met: Met, sha256: str | None, *, error: str | None = None
) -> None:
    """:func:`remember_url` within ``session``'s transaction."""
    values = {
        "sha256": sha256,
        "etag": (met.etag or "")[:256] or None,
        "last_modified": (met.modified or "")[:64] or None,
        "checked": utcnow(),
        "error": error[:2000] if error else None,
    }
    row = {"url_key": met.key, "url": met.url, **values}  # insert, or update what another wrote
    if not insert_ignoring_conflicts(session, MediaUrl, [row]):
        session.execute(update(MediaUrl).where(MediaUrl.url_key == met.key).values(values))


def validators(known: MediaUrl | None) -> dict[str, str]:
    """The conditional-request headers for a media URL answered before (none if unknown)."""
    if known is None or known.sha256 is None:
        return {}
    headers = {}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    return headers


def _is_stream(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(2048)
    return is_hls(head) or is_dash(head)
