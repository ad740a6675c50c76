"""Recognising media: hash a file and store its signals, match signals and record sightings.

Used by the crawl itself (``reclaim monitor run``, the demo: fetch, hash and match in one
go) and by the ``media.hash`` and ``media.match`` tasks of a deployment whose workers
split the work (:mod:`reclaim.monitor.handoff`).

- A new file is hashed in an isolated decoding worker (a hostile file costs that worker,
  never the crawl); its signals are stored whether or not anything matched, and so is the
  reason when it could not be hashed. The anchored-region part of robust matching needs
  the pixels, so it runs when a file is first hashed; later its stored signals are
  matched against the banks as they are then.
- Every banked item it matches (negative banks suppress, as everywhere) becomes or
  refreshes a sighting -- and so does every item the very same file (by SHA-256) was
  found to show at another address before, which its stored hashes alone may not find
  again (:func:`same_file`).
- A new sighting of a case (not a minor's) keeps an encrypted thumbnail, made in an
  isolated worker while the downloaded file is still at hand; a file met again later
  (its bytes gone) lends the thumbnail an earlier sighting of it in the case has, if any.
  No thumbnail is ever a reason for a sighting not to be recorded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks.match import Match
from reclaim.banks.models import Bank, BankItem, BankKind, ItemStatus
from reclaim.banks.replica import Matchers
from reclaim.cases.models import Organisation
from reclaim.media.errors import MediaError
from reclaim.media.thumbnail import Thumbnailer
from reclaim.monitor.models import MediaFile, Sighting, SightingStatus
from reclaim.monitor.sightings import (
    Seen,
    keep_thumbnail,
    record_sighting,
    reuse_thumbnail,
    thumbnail_wanted,
)
from reclaim.signals.base import HashFormatError, Signal, UnknownSignalType
from reclaim.signals.hasher import FileHasher
from reclaim.signals.registry import signal_from_json
from reclaim.store.base import utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.db import Database
from reclaim.store.upsert import insert_ignoring_conflicts

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Recorded:
    """What matching one file's signals did."""

    matches: int
    """Banked items it matched."""
    new_sightings: int


AtHand = Path | Callable[[], AbstractContextManager[Path | None]] | None
"""A medium's bytes for its thumbnail: the file, a way to open it (None: it cannot be),
or None when they are not at hand."""


class Unhashable(Exception):
    """A file that could not be hashed (damaged, hostile, not a picture or video); the
    reason is stored with its SHA-256."""


class Recogniser:
    """Hashes files and records what they match; thread-safe."""

    def __init__(
        self,
        database: Database,
        matchers: Matchers | None,
        hasher: FileHasher | None = None,
        *,
        blobs: BlobStore | None = None,
        thumbnailer: Thumbnailer | None = None,
    ) -> None:
        """Without ``matchers`` it only hashes, without a ``hasher`` it only matches
        stored signals; without ``blobs`` (no master key) or a ``thumbnailer``, no
        thumbnail is kept."""
        self._database = database
        self._matchers = matchers
        self._hasher = hasher
        self._blobs = blobs if thumbnailer is not None else None
        self._thumbnailer = thumbnailer

    # -- hashing ------------------------------------------------------------------------

    def hash_file(self, url: str, path: Path, sha256: str) -> list[Signal]:
        """Hash the file at ``path`` (met at ``url``) and store its signals, or the reason
        it could not be hashed (:class:`Unhashable`). A file another worker stored a
        moment ago keeps that worker's row."""
        if self._hasher is None:
            raise RuntimeError("this recogniser has no hasher")
        result = self._hasher.hash(str(path))
        size = path.stat().st_size
        if isinstance(result, MediaError):
            # The reason names the scratch file: say "the file" instead of a temporary path.
            reason = f"{result.kind}: {result.reason.replace(str(path), 'the file')}"
            with self._database.session() as session:
                _store_file(session, sha256, "unknown", size, [], reason)
            log.info("media %s could not be hashed: %s", shown(url), reason)
            raise Unhashable(reason)
        signals = list(result.signals)
        with self._database.session() as session:
            _store_file(
                session, sha256, result.kind.value, size, [s.to_json() for s in signals], None
            )
        return signals

    def stored(self, sha256: str) -> list[Signal] | None:
        """The stored signals of the file ``sha256``: None if it was never hashed,
        :class:`Unhashable` if it could not be."""
        with self._database.session() as session:
            stored = session.get(MediaFile, sha256)
            if stored is None:
                return None
            if stored.error is not None:
                raise Unhashable(stored.error)
            return _signals(stored.signals)

    # -- matching and recording ---------------------------------------------------------

    def record(
        self,
        url: str,
        sha256: str,
        signals: list[Signal],
        where: Where,
        media: AtHand,
        *,
        since: datetime | None = None,
    ) -> Recorded:
        """Match ``signals`` in the organisation's banks and record each sighting; new ones
        get a thumbnail of ``media`` (the file, if still at hand, or how to open it) where
        they may keep one.
        ``since``: sightings first recorded since then count as new for thumbnails (an
        earlier attempt of the same work recorded them, then stopped)."""
        if self._matchers is None:
            raise RuntimeError("this recogniser has no matchers")
        wanting: list[int] = []
        with self._database.session() as session:
            org = session.get(Organisation, where.org_id)
            if org is None:
                return Recorded(0, 0)
            found = self._matchers.match(session, org=org, shared_only=False, signals=signals)
            best = _best_per_item([m for m in found if not m.negative])
            items = {
                item.public_id: item
                for item in session.scalars(
                    select(BankItem).where(BankItem.public_id.in_(list(best)))
                )
            }
            evidence = [
                (items[public_id], match.to_json(with_label=False))
                for public_id, match in best.items()
                if public_id in items
            ]
            if not any(m.negative for m in found):  # a negative bank's match vetoes it all
                evidence += same_file(session, org=org, sha256=sha256, besides=set(best))
            new = 0
            now = utcnow()
            for item, match_json in evidence:
                seen = Seen(
                    item=item,
                    page_url=where.page_url,
                    media_url=url,
                    media_sha256=sha256,
                    match=match_json,
                    when=now,
                    source_id=where.source_id,
                )
                sighting, is_new = record_sighting(session, org=org, seen=seen)
                new += is_new
                unfinished = (
                    since is not None
                    and sighting.first_seen >= since
                    and sighting.thumbnail_blob_id is None
                )
                if (is_new or unfinished) and self._needs_thumbnail(session, sighting):
                    wanting.append(sighting.id)
        if wanting and media is not None:
            # Made after the sightings are committed: decoding never holds the database.
            self._keep_thumbnail(url, media, wanting)
        return Recorded(len(evidence), new)

    def _needs_thumbnail(self, session: Session, sighting: Sighting) -> bool:
        """Whether a new thumbnail must be made for ``sighting`` (one of the same file in
        its case, if any, is shared instead)."""
        if self._blobs is None or not thumbnail_wanted(session, sighting=sighting):
            return False
        return not reuse_thumbnail(session, sighting=sighting)

    def _keep_thumbnail(self, url: str, media: AtHand, sighting_ids: list[int]) -> None:
        """Make one thumbnail of ``media`` and keep it, encrypted, for each sighting."""
        if media is None or isinstance(media, Path):
            opened: AbstractContextManager[Path | None] = contextlib.nullcontext(media)
        else:
            opened = media()
        with opened as path:
            if path is not None:
                self._thumbnail_of(url, path, sighting_ids)

    def _thumbnail_of(self, url: str, media: Path, sighting_ids: list[int]) -> None:
        blobs, thumbnailer = self._blobs, self._thumbnailer
        assert blobs is not None
        assert thumbnailer is not None
        try:
            data = thumbnailer.make(media)
        except MediaError as error:
            reason = error.reason.replace(str(media), "the file")
            log.info("no thumbnail of %s: %s: %s", shown(url), error.kind, reason)
            return
        with self._database.session() as session:
            kept = keep_thumbnail(session, sighting_ids=sighting_ids, blobs=blobs, data=data)
        if kept < len(sighting_ids):
            log.info(
                "%s: %d of %d new sightings keep no thumbnail",
                shown(url),
                len(sighting_ids) - kept,
                len(sighting_ids),
            )


def same_file(
    session: Session, *, org: Organisation, sha256: str, besides: set[str]
) -> list[tuple[BankItem, dict[str, Any]]]:
    """Banked items the very same file (``sha256``) was found to show before, at another
    address, that the matcher did not find now (items in ``besides``): each with the
    earlier evidence, marked with the sighting it came from.

    A file met again is matched by its stored hashes only; what only its pixels showed
    the first time (a crop, a turned copy, a picture under an overlay) would be missed at
    every further address of the same bytes. A sighting a person rejected lends nothing,
    nor does an item withdrawn since or a bank no longer the organisation's own normal
    one."""
    rows = session.execute(
        select(Sighting, BankItem)
        .join(BankItem, BankItem.id == Sighting.item_id)
        .join(Bank, Bank.id == BankItem.bank_id)
        .where(
            Sighting.org_id == org.id,
            Sighting.media_sha256 == sha256,
            Sighting.status != SightingStatus.REJECTED,
            BankItem.status == ItemStatus.ACTIVE,
            Bank.org_id == org.id,
            Bank.kind == BankKind.NORMAL,
        )
        .order_by(Sighting.id)
    ).all()
    out: dict[str, tuple[BankItem, dict[str, Any]]] = {}
    for sighting, item in rows:
        if item.public_id in besides or item.public_id in out:
            continue
        earlier = {k: v for k, v in sighting.match.items() if k != "same_file_as"}
        out[item.public_id] = (item, {**earlier, "same_file_as": sighting.id})
    return list(out.values())


def shown(url: str) -> str:
    """``url`` for the log: its query and fragment may carry tokens or names."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


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
