"""Matcher snapshots: a matcher process starts from the newest one plus the change log
after it, instead of reading and indexing every banked signal again.

Layout, one directory per matcher (an organisation's banks, shared items only or all)::

    <root>/<org id>-<shared|all>/current        symlink to the newest generation, swapped
                                                 atomically (os.replace of a new symlink)
    <root>/<org id>-<shared|all>/gen-<...>/catalog/   who owns each signal (manifest + .npy)
    <root>/<org id>-<shared|all>/gen-<...>/pdq/       the PDQ index, compacted

A generation is written in full and fsynced before ``current`` points at it, so a crash
leaves the previous one. Its metadata say which change-log position it reflects and which
banks it holds; a snapshot of other banks (one created or deleted since) is not used.
Loading memory-maps the arrays: every matcher process on the machine that loads the same
generation shares one copy in the page cache. Only that bulk is saved; grids, videos and
digests are read again from the database by signal id (as a cold start would).

A new machine can start from a copy of another's ``<root>`` (any generation is a
consistent state; the log brings it up to date). A damaged snapshot is logged and ignored:
the matcher is then built from the database, which is slower but never wrong.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from reclaim.banks.matcher import SNAPSHOT_KIND, BankMatcher, Frozen
from reclaim.banks.models import Bank
from reclaim.banks.service import SignalRow
from reclaim.banks.shards import Shard
from reclaim.index.errors import MatchIndexError
from reclaim.index.files import fsync_directory, read_manifest

log = logging.getLogger(__name__)

FORMAT = 1
_CURRENT = "current"
_KEEP = 2  # generations kept: the current one and the one before (a peer may be reading it)


def folder_name(org_id: int, shared_only: bool, shard: Shard | None = None) -> str:
    name = f"{org_id}-{'shared' if shared_only else 'all'}"
    return name if shard is None else f"{name}-shard-{shard.index}-of-{shard.count}"


class Loaded(NamedTuple):
    """A matcher started from a snapshot."""

    seq: int
    """The change log position the snapshot reflects."""
    matcher: BankMatcher
    generation: str
    """The generation's name in its folder (a newer one has another)."""


class Snapshots:
    """The snapshots under ``root`` (usually ``<data dir>/matchers``) of matchers holding
    ``shard`` (all signals when None)."""

    def __init__(self, root: Path, shard: Shard | None = None) -> None:
        self.root = root
        self.shard = shard

    def load(
        self,
        org_id: int,
        shared_only: bool,
        banks: list[Bank],
        rows_of: Callable[[list[int]], Iterable[SignalRow]],
        entry_key: Callable[[int], str],
    ) -> Loaded | None:
        """The newest snapshot's matcher and the log position it reflects, or None (no
        snapshot, another set of banks, a log that is not the one it followed -- a restored
        backup --, or damaged: logged). ``entry_key(seq)`` is the log's
        :func:`~reclaim.banks.service.log_entry_key`."""
        folder = self.root / folder_name(org_id, shared_only, self.shard)
        name = self.current(org_id, shared_only)
        if name is None:
            return None
        generation = folder / name
        try:
            meta = read_manifest(generation / "catalog", SNAPSHOT_KIND)["meta"]
        except (MatchIndexError, OSError, KeyError) as error:
            log.warning("matcher snapshot %s not used: %s", generation, error)
            return None
        expected = {
            "format": FORMAT,
            "org": org_id,
            "shared_only": shared_only,
            "shard": None if self.shard is None else str(self.shard),
            "banks": sorted(b.id for b in banks),
        }
        if {key: meta.get(key) for key in expected} != expected or not isinstance(
            meta.get("seq"), int
        ):
            log.info("matcher snapshot %s is of other banks; building from the database", folder)
            return None
        if entry_key(meta["seq"]) != meta.get("entry"):
            log.warning(
                "matcher snapshot %s followed another change log (was the database restored?); "
                "building from the database",
                folder,
            )
            return None
        try:  # only now that it is known to fit: loading is the costly part
            _, matcher = BankMatcher.restore(generation, banks, rows_of, self.shard)
        except (MatchIndexError, OSError, ValueError, KeyError) as error:
            log.warning("matcher snapshot %s not used: %s", generation, error)
            return None
        return Loaded(int(meta["seq"]), matcher, name)

    def current(self, org_id: int, shared_only: bool) -> str | None:
        """The name of the newest snapshot's generation (None: there is none)."""
        folder = self.root / folder_name(org_id, shared_only, self.shard)
        try:
            return os.readlink(folder / _CURRENT)
        except OSError:
            return None

    def save(self, org_id: int, shared_only: bool, frozen: Frozen, seq: int, entry: str) -> bool:
        """Write a matcher's ``frozen`` bulk (as of log position ``seq``, whose entry has
        key ``entry``) as the newest generation; False when another process is saving the
        same snapshot (this one is then skipped)."""
        folder = self.root / folder_name(org_id, shared_only, self.shard)
        folder.mkdir(parents=True, exist_ok=True)
        with _saving(folder) as mine:
            if not mine:
                return False
            name = f"gen-{time.time_ns():x}-{secrets.token_hex(4)}"
            meta = {
                "format": FORMAT,
                "org": org_id,
                "shared_only": shared_only,
                "shard": None if self.shard is None else str(self.shard),
                "banks": frozen.banks,
                "seq": seq,
                "entry": entry,
                "items": frozen.items,
            }
            try:
                frozen.write(folder / name, meta)
                link = folder / f".current-{secrets.token_hex(4)}"
                os.symlink(name, link)
                os.replace(link, folder / _CURRENT)
                fsync_directory(folder)
            except (OSError, MatchIndexError) as error:  # a full disk: matching goes on
                shutil.rmtree(folder / name, ignore_errors=True)
                log.warning("matcher snapshot not written to %s: %s", folder, error)
                return False
            except BaseException:
                shutil.rmtree(folder / name, ignore_errors=True)
                raise
            _prune(folder)
            return True


@contextlib.contextmanager
def _saving(folder: Path) -> Iterator[bool]:
    with open(folder / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune(folder: Path) -> None:
    """Remove all but the newest generations, and links left by a crashed save."""
    for entry in folder.glob(".current-*"):
        entry.unlink(missing_ok=True)
    current = os.readlink(folder / _CURRENT)
    older = sorted((p for p in folder.glob("gen-*") if p.name != current), reverse=True)
    for stale in older[_KEEP - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)
