"""A process's matchers, kept in step with the banks' change log.

Every process that matches (API and matcher replicas, monitor and recheck workers) holds
one :class:`~reclaim.banks.matcher.BankMatcher` per organisation and scope (shared items
only, for platforms; or all) in a :class:`MatcherCache`. A lookup first applies the change
log entries after the matcher's position, so a replica never answers from a state older
than the database's at the start of the lookup: an add, verification or withdrawal
anywhere is visible to the next lookup on every replica.

A replica (``reclaim serve --role matcher`` or ``api``) also runs a :class:`Follower`: it
loads every organisation's matcher when the process starts -- from the newest snapshot
plus the log when there is one (:mod:`reclaim.banks.snapshot`), from the database
otherwise -- and reports ready only then; afterwards it applies the log every few seconds,
so lookups seldom find much to apply, and saves a new snapshot once enough has changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks.anchored_lookup import AnchoredCandidate, AnchoredQuery
from reclaim.banks.match import Match
from reclaim.banks.matcher import BankMatcher
from reclaim.banks.models import Bank
from reclaim.banks.service import (
    changed_items,
    last_change,
    log_entry_key,
    signal_rows,
    signals_by_id,
)
from reclaim.banks.shard_client import ShardedMatchers, router_from_settings
from reclaim.banks.shards import Shard
from reclaim.banks.snapshot import Loaded, Snapshots
from reclaim.cases.models import Organisation
from reclaim.config import Settings
from reclaim.signals.base import Signal
from reclaim.store.db import Database

log = logging.getLogger(__name__)

RESAVE_AFTER = 10_000
"""A matcher's snapshot is written again once this many items have changed since."""
SAVE_RETRY_SECONDS = 600.0
"""After a snapshot was not written (another process was, or the disk refused), the
wait before trying again."""


@dataclass
class _Entry:
    seq: int  # the change log position the matcher reflects
    matcher: BankMatcher
    saved: int | None  # the log position of its newest snapshot, None when none
    changes: int = 0  # items changed since that snapshot
    entry_key: str = ""  # log_entry_key of seq
    save_from: float = 0.0  # monotonic time before which no snapshot is tried again
    generation: str | None = None  # the snapshot generation the matcher maps, if any
    passed_over: str | None = None  # a newer generation found unusable: not tried again


class MatcherCache:
    """One :class:`BankMatcher` per (organisation, shared-only), kept in step with the
    change log: the next lookup after an add, verification or withdrawal sees it. With
    ``snapshots``, matchers start from the newest snapshot there and :meth:`refresh` saves
    new ones."""

    def __init__(
        self,
        snapshots: Snapshots | None = None,
        shard: Shard | None = None,
        *,
        save_after_build: bool = False,
    ) -> None:
        """``save_after_build``: write a snapshot right after reading a matcher from the
        database (for processes without a :class:`Follower`, e.g. workers: the next one to
        start on the machine maps it instead of reading the banks again)."""
        self._lock = threading.Lock()
        self._built: dict[tuple[int, bool], _Entry] = {}
        self._snapshots = snapshots
        self._save_after_build = save_after_build
        self.shard = shard
        if snapshots is not None and snapshots.shard != shard:
            raise ValueError("the snapshots are of another shard than the matchers")

    def match(
        self, session: Session, *, org: Organisation, shared_only: bool, signals: Sequence[Signal]
    ) -> list[Match]:
        with self._lock:
            return self._current(session, org.id, shared_only).match(signals)

    def close(self) -> None:
        """Nothing to release: the matchers are memory (and mapped snapshot files)."""

    def match_each(
        self, session: Session, *, org_id: int, shared_only: bool, signals: Sequence[Signal]
    ) -> list[list[Match]]:
        """Each signal's matches, from one state of the banks (the log applied once)."""
        with self._lock:
            matcher = self._current(session, org_id, shared_only)
            return [matcher.match([signal]) for signal in signals]

    def match_for_shard(
        self,
        session: Session,
        *,
        org_id: int,
        shared_only: bool,
        signals: Sequence[Signal],
        anchored: Sequence[AnchoredQuery | None],
    ) -> list[tuple[list[Match], list[AnchoredCandidate]]]:
        """Each signal's matches before negative-bank suppression, and the banked
        pictures its ``anchored`` regions matched (what a shard answers)."""
        with self._lock:
            matcher = self._current(session, org_id, shared_only)
            return [
                matcher.match_for_shard(signal, query)
                for signal, query in zip(signals, anchored, strict=True)
            ]

    def position(self, org_id: int, shared_only: bool) -> int | None:
        """The change log position the matcher reflects (None when not built)."""
        with self._lock:
            entry = self._built.get((org_id, shared_only))
            return None if entry is None else entry.seq

    def _current(self, session: Session, org_id: int, shared_only: bool) -> BankMatcher:
        banks = _banks(session, org_id)
        key = (org_id, shared_only)
        entry = self._built.get(key)
        if entry is None or set(entry.matcher.banks) != {b.id for b in banks}:
            entry = self._start(session, org_id, shared_only, banks)
            self._built[key] = entry
        newest, changed = _apply(session, entry.matcher, entry.seq, banks, shared_only)
        if newest != entry.seq:
            entry.seq = newest
            entry.changes += changed
            entry.entry_key = log_entry_key(session, newest)
        return entry.matcher

    def _start(self, session: Session, org_id: int, shared_only: bool, banks: list[Bank]) -> _Entry:
        if self._snapshots is not None:
            loaded = _load(self._snapshots, session, org_id, shared_only, banks)
            if loaded is not None:
                seq, matcher, generation = loaded
                log.info(
                    "matcher of organisation %d (%s): %d items from the snapshot at log "
                    "position %d",
                    org_id,
                    "shared" if shared_only else "all",
                    len(matcher),
                    seq,
                )
                entry_key = log_entry_key(session, seq)
                return _Entry(seq, matcher, seq, entry_key=entry_key, generation=generation)
        seq = last_change(session)  # read first: later changes are applied again, harmlessly
        matcher = BankMatcher(banks, self.shard)
        matcher.add(signal_rows(session, banks=banks, shared_only=shared_only))
        log.info(
            "matcher of organisation %d (%s): %d items read from the database",
            org_id,
            "shared" if shared_only else "all",
            len(matcher),
        )
        entry_key = log_entry_key(session, seq)
        saved = None
        if self._snapshots is not None and self._save_after_build:
            frozen = matcher.freeze()
            if self._snapshots.save(org_id, shared_only, frozen, seq, entry_key):
                saved = seq
        return _Entry(seq, matcher, saved=saved, entry_key=entry_key)

    def refresh(self, database: Database) -> None:
        """Apply the log to every matcher held, and save the snapshots that are due (a
        matcher never saved, or changed by :data:`RESAVE_AFTER` items since)."""
        for org_id, shared_only in list(self._built):
            key = (org_id, shared_only)
            with database.session() as session, self._lock:
                if session.get(Organisation, org_id) is None or self._rewound(session, key):
                    self._built.pop(key, None)  # built again at its next lookup
                    continue
                self._current(session, org_id, shared_only)
                entry = self._built[key]
                due = (
                    self._snapshots is not None
                    and (entry.saved is None or entry.changes >= RESAVE_AFTER)
                    and time.monotonic() >= entry.save_from
                )
                if not due:
                    continue
                frozen, seq, changes = entry.matcher.freeze(), entry.seq, entry.changes
                entry_key = log_entry_key(session, seq)
            assert self._snapshots is not None
            # Written outside the lock: lookups go on while the files are written.
            saved = self._snapshots.save(org_id, shared_only, frozen, seq, entry_key)
            with self._lock:
                if saved:
                    entry.saved, entry.changes = seq, entry.changes - changes
                else:  # another process was saving it, or the disk refused: later
                    entry.save_from = time.monotonic() + SAVE_RETRY_SECONDS
        for key in list(self._built):
            self._adopt_newer(database, key)

    def _adopt_newer(self, database: Database, key: tuple[int, bool]) -> None:
        """Swap the matcher for the newest snapshot of it when one was written since it
        started (by this process or another): its pages are then shared with every replica
        on the machine, instead of this process holding its own copy of what changed. The
        snapshot is loaded while lookups go on; only the log since it is applied under
        the lock."""
        if self._snapshots is None:
            return
        org_id, shared_only = key
        with self._lock:
            entry = self._built.get(key)
            newest = self._snapshots.current(org_id, shared_only)
            if entry is None or newest is None or newest in (entry.generation, entry.passed_over):
                return
        with database.session() as session:
            loaded = _load(self._snapshots, session, org_id, shared_only, _banks(session, org_id))
        with database.session() as session, self._lock:
            if self._built.get(key) is not entry:
                return  # built again meanwhile
            if loaded is None or set(loaded.matcher.banks) != set(entry.matcher.banks):
                entry.passed_over = newest
                return
            banks = _banks(session, org_id)
            seq, changed = _apply(session, loaded.matcher, loaded.seq, banks, shared_only)
            entry.matcher, entry.generation = loaded.matcher, loaded.generation
            entry.seq, entry.saved, entry.changes = seq, loaded.seq, changed
            entry.entry_key = log_entry_key(session, seq)
        log.info(
            "matcher of organisation %d (%s) now maps snapshot %s (log position %d)",
            org_id,
            "shared" if shared_only else "all",
            loaded.generation,
            loaded.seq,
        )

    def _rewound(self, session: Session, key: tuple[int, bool]) -> bool:
        """Whether the log no longer holds the entry the matcher's position names (the
        database was restored from a backup): the matcher is then not to be trusted."""
        entry = self._built.get(key)
        return entry is not None and log_entry_key(session, entry.seq) != entry.entry_key

    def preload(self, database: Database, *, shared_only: bool) -> int:
        """Build (or load) the matcher of every organisation that has banks; how many."""
        with database.session() as session:
            org_ids = list(session.scalars(select(Bank.org_id).distinct()))
            for org_id in org_ids:
                with self._lock:
                    self._current(session, org_id, shared_only)
        return len(org_ids)


def _load(
    snapshots: Snapshots, session: Session, org_id: int, shared_only: bool, banks: list[Bank]
) -> Loaded | None:
    """The newest snapshot's matcher (grids, videos and digests read by id)."""
    return snapshots.load(
        org_id,
        shared_only,
        banks,
        lambda ids: signals_by_id(session, ids),
        lambda seq: log_entry_key(session, seq),
    )


def _banks(session: Session, org_id: int) -> list[Bank]:
    return list(session.scalars(select(Bank).where(Bank.org_id == org_id).order_by(Bank.id)))


def _apply(
    session: Session, matcher: BankMatcher, after: int, banks: list[Bank], shared_only: bool
) -> tuple[int, int]:
    """Apply the change log after position ``after`` to ``matcher``: the position it then
    reflects, and how many items changed."""
    newest, changed = changed_items(session, after=after)
    if not changed:
        return after, 0
    matcher.banks.update({b.id: b for b in banks})
    matcher.remove(matcher.item_ids(changed))
    rows = signal_rows(session, banks=banks, shared_only=shared_only, public_ids=sorted(changed))
    matcher.add(rows)
    return newest, len(changed)


class Matchers(Protocol):
    """What the monitor and the re-checks match with: a :class:`MatcherCache` in this
    process, or the matcher shards (:class:`reclaim.banks.shard_client.ShardedMatchers`)."""

    def match(
        self, session: Session, *, org: Organisation, shared_only: bool, signals: Sequence[Signal]
    ) -> list[Match]: ...

    def close(self) -> None: ...


def worker_matchers(settings: Settings) -> Matchers:
    """The matchers of a worker process (crawls, re-checks): the matcher shards when
    ``RECLAIM_MATCHER_SHARDS`` names them (the banks are too large for one machine);
    else held here, started from the machine's snapshots when there are some, else read
    from the database and saved for the next."""
    router = router_from_settings(settings)
    if router is not None:
        return ShardedMatchers(router)
    return MatcherCache(Snapshots(settings.data_dir / "matchers"), save_after_build=True)


class Follower:
    """Keeps a :class:`MatcherCache` loaded and in step, on a thread of its own: loads
    every organisation's matcher first (:attr:`ready` is set then), then calls
    :meth:`MatcherCache.refresh` every ``interval`` seconds. Errors (the database away) are
    logged and retried; lookups stay correct meanwhile, as they apply the log themselves."""

    def __init__(
        self,
        cache: MatcherCache,
        database: Database,
        *,
        scopes: Sequence[bool] = (True,),
        interval: float = 2.0,
    ) -> None:
        """``scopes``: the matchers to keep, of shared items only (True, what platforms
        match) and of all items (False, what the monitor matches)."""
        self.cache = cache
        self.database = database
        self.scopes = tuple(scopes)
        self.interval = interval
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="matcher-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self.ready.is_set():
            try:
                for shared_only in self.scopes:
                    count = self.cache.preload(self.database, shared_only=shared_only)
            except Exception:
                log.exception("loading the matchers failed; retrying")
                if self._stop.wait(self.interval):
                    return
            else:
                log.info("matchers of %d organisations loaded", count)
                self.ready.set()
        while not self._stop.wait(self.interval):
            try:
                self.cache.refresh(self.database)
            except Exception:
                log.exception("following the change log failed; retrying")


SCOPES: dict[str, tuple[bool, ...]] = {"shared": (True,), "all": (False,), "both": (True, False)}
"""``RECLAIM_MATCHER_SCOPE``: the :class:`Follower` scopes it names."""
