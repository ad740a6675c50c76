"""The media step: fetch a picture or video a page names, hash it, match it, record sightings.

- A media URL already checked in this round of the crawl is not fetched again; one
  checked in an earlier round is asked for with its validators (``If-None-Match``,
  ``If-Modified-Since``), and a ``304`` reuses what is known.
- A file already hashed (same SHA-256, at any URL) is not hashed again: its stored
  signals are matched against the banks as they are now. The anchored-region part of
  robust matching needs the pixels, so it runs when a file is first hashed.
- A new file is hashed in an isolated decoding worker (a hostile file costs that
  worker, never the crawl); its signals are stored whether or not anything matched, and
  so is the reason when it could not be hashed.
- Every banked item it matches (negative banks suppress, as everywhere) becomes or
  refreshes a sighting.
- A new sighting of a case (not a minor's) keeps an encrypted thumbnail, made in an
  isolated worker while the downloaded file is still at hand; a file met again later
  (its bytes gone) lends the thumbnail an earlier sighting of it in the case has, if any.
  No thumbnail is ever a reason for a sighting not to be recorded.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reclaim.banks.matcher import Match
from reclaim.banks.models import BankItem
from reclaim.banks.replica import MatcherCache
from reclaim.cases.models import Organisation
from reclaim.media.errors import MediaError
from reclaim.media.thumbnail import Thumbnailer
from reclaim.monitor.errors import FetchFailed, TooLarge, Unreachable
from reclaim.monitor.extract import MediaRef
from reclaim.monitor.fetch import Fetcher, Kind
from reclaim.monitor.models import MediaFile, MediaUrl, Sighting
from reclaim.monitor.politeness import Gate, HostGate
from reclaim.monitor.sightings import (
    Seen,
    keep_thumbnail,
    record_sighting,
    reuse_thumbnail,
    thumbnail_wanted,
)
from reclaim.monitor.streams import assemble, is_dash, is_hls
from reclaim.monitor.traps import normalise, url_key
from reclaim.signals.base import HashFormatError, Signal, UnknownSignalType
from reclaim.signals.hasher import FileHasher
from reclaim.signals.registry import signal_from_json
from reclaim.store.base import utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.db import Database
from reclaim.store.digest import file_sha256
from reclaim.store.upsert import insert_ignoring_conflicts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MediaOutcome:
    """What became of one media URL."""

    url: str
    outcome: str
    """``hashed`` (a new file), ``known`` (a file hashed before), ``failed`` (not fetched,
    or not a picture or video we could decode)."""
    sha256: str | None = None
    matches: int = 0
    new_sightings: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Where:
    """Which crawl met the media, and on which page."""

    org_id: int
    source_id: int | None
    page_url: str
    fresh_after: datetime | None
    """A media URL checked after this (the round's start) is not fetched again."""
    delay: float = 0.0
    """Seconds between two requests to one host."""


class MediaStep:
    """Fetch, hash, match and record; thread-safe (hashing runs one file at a time)."""

    def __init__(
        self,
        database: Database,
        fetcher: Fetcher,
        hasher: FileHasher,
        matchers: MatcherCache,
        workdir: Path,
        gate: Gate | None = None,
        *,
        blobs: BlobStore | None = None,
        thumbnailer: Thumbnailer | None = None,
    ) -> None:
        """Without ``blobs`` (no master key) or a ``thumbnailer``, no thumbnail is kept."""
        self._database = database
        self._fetcher = fetcher
        self._hasher = hasher
        self._matchers = matchers
        self._workdir = workdir
        self._gate: Gate = gate or HostGate(delay=0.0)
        self._blobs = blobs if thumbnailer is not None else None
        self._thumbnailer = thumbnailer
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
            return self._handle(url, key, where, body)

    def _handle(self, url: str, key: str, where: Where, body: bytes | None) -> MediaOutcome:
        with self._database.session() as session:
            known = session.scalar(select(MediaUrl).where(MediaUrl.url_key == key))
            if known is not None and (
                known.sha256 is None or session.get(MediaFile, known.sha256) is None
            ):
                known = None  # nothing usable is known of it: fetch it afresh
            if (
                known is not None
                and known.sha256 is not None
                and where.fresh_after is not None
                and known.checked >= where.fresh_after
            ):
                return self._match_known(url, known.sha256, where)
            conditional = validators(known)
        with tempfile.TemporaryDirectory(dir=self._workdir) as scratch:
            path = Path(scratch) / "media"
            try:
                if body is not None:
                    path.write_bytes(body)
                    etag = modified = None
                    status = 200
                else:
                    with self._gate.turn(url, where.delay):
                        fetched = self._fetcher.download(url, path, headers=conditional)
                    status = fetched.status
                    etag = fetched.headers.get("etag")
                    modified = fetched.headers.get("last-modified")
                    if status == 200 and _is_stream(path):
                        path = self._assemble(path, fetched.final_url, where)
            except FetchFailed as error:
                self._remember_url(url, key, None, None, None, str(error))
                return MediaOutcome(url, "failed", detail=str(error))
            if status == 304 and known is not None and known.sha256 is not None:
                self._remember_url(url, key, known.sha256, etag or known.etag, modified, None)
                return self._match_known(url, known.sha256, where)
            if status != 200:
                self._remember_url(url, key, None, None, None, f"HTTP {status}")
                return MediaOutcome(url, "failed", detail=f"HTTP {status}")
            sha256 = file_sha256(path)
            with self._database.session() as session:
                stored = session.get(MediaFile, sha256)
            if stored is not None:
                self._remember_url(url, key, sha256, etag, modified, None)
                return self._match_known(url, sha256, where, media=path)
            return self._hash_new(url, key, path, sha256, (etag, modified), where)

    def _hash_new(
        self,
        url: str,
        key: str,
        path: Path,
        sha256: str,
        cache: tuple[str | None, str | None],
        where: Where,
    ) -> MediaOutcome:
        """Hash a file met for the first time (still at ``path``), store its hashes, match;
        ``cache``: the ETag and Last-Modified it came with."""
        etag, modified = cache
        result = self._hasher.hash(str(path))
        size = path.stat().st_size
        # The file's hashes are stored before its URL is remembered: a crash in between
        # leaves the URL unknown, so it is fetched and hashed again, never lost.
        if isinstance(result, MediaError):
            # The reason names the scratch file: say "the file" instead of a temporary path.
            reason = result.reason.replace(str(path), "the file")
            with self._database.session() as session:
                _store_file(session, sha256, "unknown", size, [], f"{result.kind}: {reason}")
            self._remember_url(url, key, sha256, etag, modified, None)
            log.info("media %s could not be hashed: %s: %s", _shown(url), result.kind, reason)
            return MediaOutcome(url, "failed", sha256, detail=f"{result.kind}: {reason}")
        signals = list(result.signals)
        with self._database.session() as session:
            _store_file(
                session, sha256, result.kind.value, size, [s.to_json() for s in signals], None
            )
        self._remember_url(url, key, sha256, etag, modified, None)
        matches, new = self._record(url, sha256, signals, where, media=path)
        return MediaOutcome(url, "hashed", sha256, matches, new)

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
        log.info("joined %d segments of the stream %s", count, _shown(url))
        return video

    def _match_known(
        self, url: str, sha256: str, where: Where, media: Path | None = None
    ) -> MediaOutcome:
        """Match a file hashed before; ``media``: its bytes, when this fetch brought them."""
        with self._database.session() as session:
            stored = session.get(MediaFile, sha256)
            if stored is None:
                return MediaOutcome(url, "failed", sha256, detail="hashes of the file are gone")
            if stored.error is not None:
                return MediaOutcome(url, "failed", sha256, detail=stored.error)
            signals = _signals(stored.signals)
        matches, new = self._record(url, sha256, signals, where, media=media)
        return MediaOutcome(url, "known", sha256, matches, new)

    def _record(
        self, url: str, sha256: str, signals: list[Signal], where: Where, media: Path | None
    ) -> tuple[int, int]:
        """Match ``signals`` in the organisation's banks and record each sighting; new ones
        get a thumbnail of ``media`` (the file, if still at hand) where they may keep one."""
        wanting: list[int] = []
        with self._database.session() as session:
            org = session.get(Organisation, where.org_id)
            if org is None:
                return 0, 0
            found = [
                m
                for m in self._matchers.match(session, org=org, shared_only=False, signals=signals)
                if not m.negative
            ]
            best = _best_per_item(found)
            items = {
                item.public_id: item
                for item in session.scalars(
                    select(BankItem).where(BankItem.public_id.in_(list(best)))
                )
            }
            new = 0
            now = utcnow()
            for public_id, match in best.items():
                item = items.get(public_id)
                if item is None:
                    continue
                seen = Seen(
                    item=item,
                    page_url=where.page_url,
                    media_url=url,
                    media_sha256=sha256,
                    match=match.to_json(with_label=False),
                    when=now,
                    source_id=where.source_id,
                )
                sighting, is_new = record_sighting(session, org=org, seen=seen)
                if is_new:
                    new += 1
                    if self._needs_thumbnail(session, sighting):
                        wanting.append(sighting.id)
        if wanting and media is not None:
            # Made after the sightings are committed: decoding never holds the database.
            self._keep_thumbnail(url, media, wanting)
        return len(best), new

    def _needs_thumbnail(self, session: Session, sighting: Sighting) -> bool:
        """Whether a new thumbnail must be made for ``sighting`` (one of the same file in
        its case, if any, is shared instead)."""
        if self._blobs is None or not thumbnail_wanted(session, sighting=sighting):
            return False
        return not reuse_thumbnail(session, sighting=sighting)

    def _keep_thumbnail(self, url: str, media: Path, sighting_ids: list[int]) -> None:
        """Make one thumbnail of ``media`` and keep it, encrypted, for each sighting."""
        blobs, thumbnailer = self._blobs, self._thumbnailer
        assert blobs is not None
        assert thumbnailer is not None
        try:
            data = thumbnailer.make(media)
        except MediaError as error:
            reason = error.reason.replace(str(media), "the file")
            log.info("no thumbnail of %s: %s: %s", _shown(url), error.kind, reason)
            return
        with self._database.session() as session:
            kept = keep_thumbnail(session, sighting_ids=sighting_ids, blobs=blobs, data=data)
        if kept < len(sighting_ids):
            log.info(
                "%s: %d of %d new sightings keep no thumbnail",
                _shown(url),
                len(sighting_ids) - kept,
                len(sighting_ids),
            )

    def _remember_url(
        self,
        url: str,
        key: str,
        sha256: str | None,
        etag: str | None,
        modified: str | None,
        error: str | None,
    ) -> None:
        values = {
            "sha256": sha256,
            "etag": (etag or "")[:256] or None,
            "last_modified": (modified or "")[:64] or None,
            "checked": utcnow(),
            "error": error[:2000] if error else None,
        }
        with self._database.session() as session:  # insert, or update what another wrote
            row = {"url_key": key, "url": url, **values}
            if not insert_ignoring_conflicts(session, MediaUrl, [row]):
                session.execute(update(MediaUrl).where(MediaUrl.url_key == key).values(values))


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


def _shown(url: str) -> str:
    """``url`` for the log: its query and fragment may carry tokens or names."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def _is_stream(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(2048)
    return is_hls(head) or is_dash(head)


def _store_file(
    session: Session,
    sha256: str,
    kind: str,
    size: int,
    signals: list[dict[str, Any]],
    error: str | None,
) -> None:
    row = {
        "sha256": sha256,
        "kind": kind,
        "size": size,
        "signals": signals,
        "error": error,
        "hashed": utcnow(),
    }
    # Another worker may have hashed the same file a moment ago: its row stands.
    insert_ignoring_conflicts(session, MediaFile, [row])


def _signals(stored: list[dict[str, Any]]) -> list[Signal]:
    out = []
    for data in stored:
        try:
            out.append(signal_from_json(data))
        except (HashFormatError, UnknownSignalType) as error:
            log.warning("a stored media signal could not be read: %s", error)
    return out


def _best_per_item(matches: list[Match]) -> dict[str, Match]:
    """The closest match of each banked item (an item matched by several signals, say
    PDQ and SHA-256, is one sighting)."""
    best: dict[str, Match] = {}
    for match in matches:
        current = best.get(match.item_id)
        if current is None or match.distance < current.distance:
            best[match.item_id] = match
    return best
