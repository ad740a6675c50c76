"""Queries running while another thread adds, replaces, removes and compacts stay exact."""

from __future__ import annotations

import threading
import time

import numpy as np

from reclaim.index import PdqIndex, hamming_distances

from .conftest import AlwaysTables, flip_bits

RADIUS = 31
SECONDS = 3.0


def test_queries_never_see_a_wrong_or_partial_state() -> None:
    rng = np.random.default_rng(99)
    centres = rng.integers(0, 256, (8, 32), dtype=np.uint8)
    # Every id has one fixed code for the whole test, so any answer can be checked.
    count = 12_000
    codes = rng.integers(0, 256, (count, 32), dtype=np.uint8)
    for row in range(0, count, 3):
        codes[row] = flip_bits(rng, centres[row % 8], int(rng.integers(0, 40)))
    ids = np.arange(count, dtype=np.int64)
    stable = ids[: count // 2]  # always present (the writer re-adds some: replacements)
    churn = ids[count // 2 :]  # added and removed over and over
    index = PdqIndex.build(codes[stable], stable, AlwaysTables(tables=11, bits=13, block_bits=3))
    must = [
        set(stable[hamming_distances(codes[stable], centre) <= RADIUS].tolist())
        for centre in centres
    ]
    stop = threading.Event()
    failures: list[str] = []

    def reader() -> None:
        queries = 0
        while not stop.is_set() and not failures:
            for which, centre in enumerate(centres):
                found, distances = index.search(centre, RADIUS)
                true = hamming_distances(codes[found], centre)
                if not np.array_equal(true, distances) or len(set(found.tolist())) != found.size:
                    failures.append(f"wrong distances or duplicates for query {which}")
                if not must[which] <= set(found.tolist()):
                    failures.append(f"a stable id went missing for query {which}")
                if not np.all(np.diff(distances) >= 0):
                    failures.append("results out of order")
                queries += 1
        assert queries > 0

    def writer() -> None:
        step = 0
        while not stop.is_set():
            batch = rng.choice(churn, size=500, replace=False)
            index.add(codes[batch], batch)
            replaced = rng.choice(stable, size=300, replace=False)
            index.add(codes[replaced], replaced)  # same code again: must never vanish
            index.remove(rng.choice(churn, size=400, replace=False))
            if step % 3 == 0:
                index.compact()
            step += 1

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures[:5]
    present = set(stable.tolist())
    assert all(key in index for key in list(present)[:50])


def test_compaction_in_the_background_keeps_concurrent_updates() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, (30_000, 32), dtype=np.uint8)
    index = PdqIndex.build(codes[:20_000], np.arange(20_000))
    index.add(codes[20_000:25_000], np.arange(20_000, 25_000))
    compacting = threading.Thread(target=index.compact)
    compacting.start()
    for start in range(25_000, 30_000, 500):  # meanwhile: more adds and some removals
        index.add(codes[start : start + 500], np.arange(start, start + 500))
        index.remove(np.arange(start - 5000, start - 4900))
    compacting.join()
    removed = {
        key for start in range(25_000, 30_000, 500) for key in range(start - 5000, start - 4900)
    }
    assert len(index) == 30_000 - len(removed)
    for key in (0, 19_999, 20_000, 24_999, 25_000, 29_999, 20_050, 24_950):
        found, _ = index.search(codes[key], 0)
        assert (key in found.tolist()) == (key not in removed)
