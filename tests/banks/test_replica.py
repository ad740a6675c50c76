"""Matcher replicas: snapshots plus the change log give the answers a cold start gives,
a replica that was down catches up, damaged or stale snapshots are not trusted, and the
follower applies the log without lookups."""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import update

from reclaim.banks import replica as replica_module
from reclaim.banks import service as banks
from reclaim.banks.matcher import Frozen
from reclaim.banks.models import ChangeLogEntry
from reclaim.banks.replica import SCOPES, Follower, MatcherCache, worker_matchers
from reclaim.banks.snapshot import Snapshots, folder_name
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import render_scene
from reclaim.signals import HashOptions, HashRequest, PdqSignal, VpdqFrame, VpdqSignal, hash_file
from reclaim.signals.base import Signal

RNG = np.random.default_rng(5)


def random_hex() -> str:
    return RNG.bytes(32).hex()


def picture_signals(tmp_path: Path, seed: int) -> list[Signal]:
    """A rendered picture's signals as the browser sends them: PDQ with its grid and
    anchored regions, SHA-256, MD5."""
    path = tmp_path / f"scene-{seed}.png"
    Image.fromarray(render_scene(400, 300, seed=seed)).save(path)
    return list(hash_file(HashRequest(str(path), HashOptions())).signals)


def video(values: list[str]) -> VpdqSignal:
    return VpdqSignal(tuple(VpdqFrame(float(i), 100, v) for i, v in enumerate(values)))


def org_id(database) -> int:
    with database.session() as session:
        return cases.get_org(session).id


def answers(cache: MatcherCache, database, queries: list[list[Signal]]) -> list[set]:
    out = []
    with database.session() as session:
        org = cases.get_org(session)
        for query in queries:
            found = cache.match(session, org=org, shared_only=True, signals=query)
            out.append(
                {(m.bank, m.item, m.item_id, m.signal, m.distance, m.negative) for m in found}
            )
    return out


@pytest.fixture
def banked(database, tmp_path: Path):
    """Verified items of every kind in two banks (one negative), and queries for them."""
    pictures = [picture_signals(tmp_path, seed) for seed in range(4)]
    scenes = [[random_hex() for _ in range(10)] for _ in range(2)]
    plain = [random_hex() for _ in range(300)]
    with database.session() as session:
        org = cases.get_org(session)
        main = banks.create_bank(session, org=org, name="main")
        benign = banks.create_bank(session, org=org, name="benign", negative=True)
        items = [
            banks.NewItem(signals, f"picture {i}", "portal") for i, signals in enumerate(pictures)
        ]
        items += [banks.NewItem([video(s)], f"video {i}", "portal") for i, s in enumerate(scenes)]
        items += [
            banks.NewItem([PdqSignal(v, 100)], f"hash {i}", "import") for i, v in enumerate(plain)
        ]
        items.append(banks.NewItem([PdqSignal(random_hex(), 20)], "featureless", "import"))
        banks.add_items(session, bank=main, actor="t", verified=True, items=items)
        banks.add_items(
            session,
            bank=benign,
            actor="t",
            verified=True,
            items=[banks.NewItem([PdqSignal(plain[0], 100)], "stock photo", "import")],
        )
    queries = [pictures[i] for i in range(4)]
    queries += [[video(s)] for s in scenes]
    queries += [[PdqSignal(v, 100)] for v in plain[:20]]
    return queries, plain


def test_a_snapshot_and_the_log_answer_as_a_cold_start_does(
    database, banked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries, _ = banked
    snapshots = Snapshots(tmp_path / "matchers")
    cold = MatcherCache(snapshots)
    expected = answers(cold, database, queries)
    assert sum(len(a) for a in expected) >= 26  # every query found something
    cold.refresh(database)  # never saved: saves now
    (generation,) = (tmp_path / "matchers" / folder_name(org_id(database), True)).glob("gen-*")

    # A replica starting from it reads no bank in full: only grids, videos and digests by id.
    def no_full_read(*args, **kwargs):
        raise AssertionError("a snapshot start must not read every banked signal")

    monkeypatch.setattr(replica_module, "signal_rows", no_full_read)
    warm = MatcherCache(snapshots)
    assert answers(warm, database, queries) == expected
    assert warm.position(org_id(database), True) == cold.position(org_id(database), True)
    assert generation.is_dir()


def test_a_replica_that_was_down_catches_up_from_the_log(database, banked, tmp_path: Path) -> None:
    queries, plain = banked
    snapshots = Snapshots(tmp_path / "matchers")
    first = MatcherCache(snapshots)
    answers(first, database, queries)
    first.refresh(database)
    del first  # the replica goes down

    new_value = random_hex()
    with database.session() as session:  # meanwhile: an add, a withdrawal, a private add
        org = cases.get_org(session)
        main = banks.get_bank(session, org=org, name="main")
        banks.add_items(
            session,
            bank=main,
            actor="t",
            verified=True,
            items=[banks.NewItem([PdqSignal(new_value, 100)], "added while down", "portal")],
        )
        (withdrawn,) = [
            m
            for m in MatcherCache().match(
                session, org=org, shared_only=True, signals=[PdqSignal(plain[5], 100)]
            )
        ]
        banks.withdraw_item(session, bank=main, public_id=withdrawn.item_id, actor="survivor")
        banks.add_items(
            session,
            bank=main,
            actor="t",
            items=[banks.NewItem([PdqSignal(random_hex(), 100)], "not yet verified", "portal")],
        )

    back = MatcherCache(snapshots)
    after = answers(back, database, [[PdqSignal(new_value, 100)], [PdqSignal(plain[5], 100)]])
    assert [{item for _, item, *_ in a} for a in after] == [{"added while down"}, set()]
    assert answers(back, database, queries) == answers(MatcherCache(), database, queries)


def test_damaged_or_stale_snapshots_are_not_trusted(
    database, banked, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queries, _ = banked
    root = tmp_path / "matchers"
    snapshots = Snapshots(root)
    expected = answers(MatcherCache(), database, queries)
    saver = MatcherCache(snapshots)
    answers(saver, database, queries[:1])
    saver.refresh(database)
    folder = root / folder_name(org_id(database), True)
    generation = folder / os.readlink(folder / "current")

    owners = next((generation / "catalog").glob("data-*")) / "owners.npy"
    data = bytearray(owners.read_bytes())
    data[-8:] = (10**12).to_bytes(8, "little")  # an owner that is no item
    owners.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="reclaim.banks.snapshot"):
        assert answers(MatcherCache(snapshots), database, queries) == expected
    assert "not used" in caplog.text

    codes = next((generation / "pdq").glob("data-*")) / "main_ids.npy"
    codes.write_bytes(codes.read_bytes()[:-16])  # truncated
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reclaim.banks.snapshot"):
        rebuilt = MatcherCache(snapshots)
        assert answers(rebuilt, database, queries) == expected
    assert "not used" in caplog.text
    rebuilt.refresh(database)  # a damaged snapshot is replaced by a good one
    assert _load(root, database) is not None

    # A database restored from a backup rewinds the log, then refills it: the entry at the
    # snapshot's position is another one, so neither the snapshot nor a running matcher
    # (at its next refresh) is trusted.
    running = MatcherCache(snapshots)
    answers(running, database, queries[:1])
    with database.session() as session:
        session.execute(
            update(ChangeLogEntry)
            .where(ChangeLogEntry.seq == banks.last_change(session))
            .values(item_public_id="restored-other")
        )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reclaim.banks.snapshot"):
        assert _load(root, database) is None
    assert "another change log" in caplog.text
    running.refresh(database)
    assert running.position(org_id(database), True) is None  # dropped: built again when asked

    with database.session() as session:  # a bank created since: the snapshot is of others
        banks.create_bank(session, org=cases.get_org(session), name="new")
    assert _load(root, database) is None
    assert answers(MatcherCache(snapshots), database, queries) == expected


def _load(root: Path, database):
    """The snapshot's (position, matcher), or None when it would not be used."""
    with database.session() as session:
        org = cases.get_org(session)
        found = banks.org_banks(session, org=org)
        return Snapshots(root).load(
            org.id,
            True,
            found,
            lambda ids: banks.signals_by_id(session, ids),
            lambda seq: banks.log_entry_key(session, seq),
        )


def test_a_second_saver_steps_aside_and_old_generations_are_pruned(
    database, banked, tmp_path: Path
) -> None:
    queries, _ = banked
    root = tmp_path / "matchers"
    cache = MatcherCache(Snapshots(root))
    answers(cache, database, queries[:1])
    frozen = _frozen(cache)
    folder = root / folder_name(org_id(database), True)
    folder.mkdir(parents=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another process is saving
        assert not Snapshots(root).save(org_id(database), True, frozen, seq=1, entry="")
    assert not list(folder.glob("gen-*"))
    with database.session() as session:
        keys = {seq: banks.log_entry_key(session, seq) for seq in range(2, 6)}
    for seq in range(2, 6):
        assert Snapshots(root).save(org_id(database), True, frozen, seq=seq, entry=keys[seq])
    assert len(list(folder.glob("gen-*"))) == 2  # the current one and the one before
    loaded = _load(root, database)
    assert loaded is not None
    assert loaded[0] == 5


def _frozen(cache: MatcherCache):
    (entry,) = cache._built.values()
    return entry.matcher.freeze()


def test_the_follower_applies_the_log_without_lookups(database, banked, tmp_path: Path) -> None:
    cache = MatcherCache(Snapshots(tmp_path / "matchers"))
    follower = Follower(cache, database, interval=0.1)
    follower.start()
    try:
        assert follower.ready.wait(60)
        start = cache.position(org_id(database), True)
        assert start is not None
        with database.session() as session:
            main = banks.get_bank(session, org=cases.get_org(session), name="main")
            banks.add_items(
                session,
                bank=main,
                actor="t",
                verified=True,
                items=[banks.NewItem([PdqSignal(random_hex(), 100)], "new", "portal")],
            )
        deadline = time.monotonic() + 30
        while cache.position(org_id(database), True) == start:
            assert time.monotonic() < deadline, "the follower never applied the add"
            time.sleep(0.05)
        folder = tmp_path / "matchers" / folder_name(org_id(database), True)
        while not (folder / "current").exists():  # and saved a snapshot, never having one
            assert time.monotonic() < deadline, "the follower never saved a snapshot"
            time.sleep(0.05)
    finally:
        follower.stop()


def test_workers_save_what_they_read_for_the_next_one(
    database, banked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker (no follower) writes a snapshot right after reading the banks from the
    database; the next worker on the machine starts from it."""
    queries, _ = banked
    settings = Settings(data_dir=tmp_path / "data")
    first = worker_matchers(settings)
    with database.session() as session:
        org = cases.get_org(session)
        expected = [first.match(session, org=org, shared_only=False, signals=q) for q in queries]
    assert (settings.data_dir / "matchers" / folder_name(org_id(database), False)).is_dir()

    def no_full_read(*args, **kwargs):
        raise AssertionError("the second worker must start from the first one's snapshot")

    monkeypatch.setattr(replica_module, "signal_rows", no_full_read)
    second = worker_matchers(settings)
    with database.session() as session:
        org = cases.get_org(session)
        assert [second.match(session, org=org, shared_only=False, signals=q) for q in queries] == (
            expected
        )


def test_a_snapshot_that_cannot_be_written_never_stops_matching(
    database, banked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    queries, _ = banked
    expected = answers(MatcherCache(), database, queries)

    def disk_full(self, directory: Path, meta) -> None:
        (directory / "catalog").mkdir(parents=True)
        (directory / "catalog" / "partial.npy").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Frozen, "write", disk_full)
    root = tmp_path / "matchers"
    worker = MatcherCache(Snapshots(root), save_after_build=True)
    with caplog.at_level(logging.WARNING, logger="reclaim.banks.snapshot"):
        assert answers(worker, database, queries) == expected  # the worker goes on
    assert "No space left on device" in caplog.text
    folder = root / folder_name(org_id(database), True)
    assert not list(folder.glob("gen-*"))  # nothing half-written left
    assert not (folder / "current").exists()
    follower_cache = MatcherCache(Snapshots(root))
    answers(follower_cache, database, queries[:1])
    follower_cache.refresh(database)  # fails, and waits before trying again
    (entry,) = follower_cache._built.values()
    assert entry.saved is None
    assert entry.save_from > time.monotonic() + 60


def _mapped(array: np.ndarray) -> bool:
    """Whether ``array`` reads a memory-mapped file (shared with other processes)."""
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


def _entry(cache: MatcherCache):
    (entry,) = cache._built.values()
    return entry


def test_replicas_move_to_each_newer_snapshot_and_map_it(
    database, banked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica that saved a snapshot maps it (its own copy of the bank is let go), and
    one that started from an older snapshot moves to the newer one another wrote: so
    replicas on a machine keep sharing one copy of the bank however much it changes."""
    queries, plain = banked
    snapshots = Snapshots(tmp_path / "matchers")
    writer = MatcherCache(snapshots)
    answers(writer, database, queries[:1])  # built from the database: its own memory
    assert not _mapped(_entry(writer).matcher._catalog._main.signal_ids)
    writer.refresh(database)  # saves, then maps what it saved
    first = snapshots.current(org_id(database), True)
    assert _entry(writer).generation == first
    assert _mapped(_entry(writer).matcher._catalog._main.signal_ids)

    reader = MatcherCache(snapshots)
    answers(reader, database, queries[:1])
    assert _entry(reader).generation == first

    with database.session() as session:  # the bank changes: an add and a withdrawal
        org = cases.get_org(session)
        main = banks.get_bank(session, org=org, name="main")
        added = random_hex()
        banks.add_items(
            session,
            bank=main,
            actor="t",
            verified=True,
            items=[banks.NewItem([PdqSignal(added, 100)], "added", "portal")],
        )
        (gone,) = MatcherCache().match(
            session, org=org, shared_only=True, signals=[PdqSignal(plain[7], 100)]
        )
        banks.withdraw_item(session, bank=main, public_id=gone.item_id, actor="survivor")
    monkeypatch.setattr(replica_module, "RESAVE_AFTER", 1)
    writer.refresh(database)  # two items changed: a new snapshot, mapped at once
    second = snapshots.current(org_id(database), True)
    assert second not in (None, first)
    assert _entry(writer).generation == second

    monkeypatch.setattr(replica_module, "RESAVE_AFTER", 10_000)
    reader.refresh(database)  # it has no snapshot to save: it moves to the other's
    assert _entry(reader).generation == second
    assert _mapped(_entry(reader).matcher._catalog._main.signal_ids)
    later = [[PdqSignal(added, 100)], [PdqSignal(plain[7], 100)], *queries]
    cold = answers(MatcherCache(), database, later)
    assert answers(reader, database, later) == cold
    assert answers(writer, database, later) == cold
    assert [{item for _, item, *_ in a} for a in cold[:2]] == [{"added"}, set()]
    assert reader.position(org_id(database), True) == writer.position(org_id(database), True)


def test_a_newer_snapshot_that_does_not_fit_is_passed_over(
    database, banked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries, _ = banked
    snapshots = Snapshots(tmp_path / "matchers")
    writer = MatcherCache(snapshots)
    answers(writer, database, queries[:1])
    writer.refresh(database)
    reader = MatcherCache(snapshots)
    expected = answers(reader, database, queries)
    before = _entry(reader).matcher
    folder = tmp_path / "matchers" / folder_name(org_id(database), True)
    newer = folder / "gen-99999999999999-damaged"
    (folder / (snapshots.current(org_id(database), True) or "")).rename(newer)
    os.unlink(folder / "current")
    os.symlink(newer.name, folder / "current")
    (newer / "catalog" / "manifest.json").write_text("{")  # damaged
    loads = []
    original = Snapshots.load
    monkeypatch.setattr(Snapshots, "load", lambda self, *a: loads.append(1) or original(self, *a))
    reader.refresh(database)
    reader.refresh(database)
    assert len(loads) == 1  # looked at once, then passed over
    assert _entry(reader).matcher is before
    assert answers(reader, database, queries) == expected


def test_a_follower_keeps_the_scopes_it_is_given(database, banked, tmp_path: Path) -> None:
    """A matcher shard that workers ask keeps the matcher of all items loaded too."""
    for scopes, held in [(SCOPES["shared"], {True}), (SCOPES["both"], {True, False})]:
        cache = MatcherCache()
        follower = Follower(cache, database, scopes=scopes, interval=0.1)
        follower.start()
        try:
            assert follower.ready.wait(60)
            loaded = {s for s in (True, False) if cache.position(org_id(database), s) is not None}
            assert loaded == held
        finally:
            follower.stop()
