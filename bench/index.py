"""PDQ radius search: reclaim.index.PdqIndex against faiss, measured in the same run.

For each size it builds random 256-bit codes plus, for every query, planted codes at each
distance 0..40 from it, and measures at radius 31 (PDQ's match threshold):

- faiss ``IndexBinaryFlat`` (the brute-force baseline; with faiss's default OpenMP threads
  and with one thread, the faster of the two being "flat"),
- HMA's configuration, faiss ``IndexBinaryMultiHash(256, 16, 16)`` with ``nflip = 1``,
- ``PdqIndex`` (see the ``reclaim.index`` docstring for its layout and parameters),

per single query (ms p50 and mean), in one batch (queries/s), build time, memory (bytes per
code: the index's arrays, and the process's RSS growth), save and load time, and the time
for 10k adds to become visible. Every answer is compared with flat's; a difference prints a
FAIL line. faiss's binary ``range_search`` keeps distances strictly below its radius, so it
is called with radius + 1 to mean "<= radius" as PdqIndex does.

Targets (issue): >= 10x flat per single query at 10M codes; <= 96 bytes per code.

    .venv/bin/python bench/index.py [--sizes 1000000,10000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    import faiss  # the baselines only: src/ never imports faiss
except ImportError:  # pragma: no cover
    faiss = None

from reclaim.index import PdqIndex

DISTANCES = range(41)
RADIUS = 31
ADDS = 10_000


def rss() -> int:
    """Resident set size of this process in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


def make_data(size: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` codes (random, plus one at each distance 0..40 of every query) and queries."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, (queries, 32), dtype=np.uint8)
    planted = np.repeat(centres, len(DISTANCES), axis=0)
    for row, flips in enumerate(np.tile(np.array(DISTANCES), queries)):
        bits = rng.choice(256, size=flips, replace=False)
        np.bitwise_xor.at(
            planted[row], bits >> 3, np.left_shift(1, 7 - (bits & 7)).astype(np.uint8)
        )
    codes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    slots = rng.choice(size, size=len(planted), replace=False)
    codes[slots] = planted
    return codes, centres


Answer = list[tuple[int, int]]  # (distance, id), sorted


def timed_each(
    run: Callable[[np.ndarray], Answer], queries: np.ndarray
) -> tuple[list[float], list[Answer]]:
    run(queries[0])  # warm-up (compilation, page faults)
    times, answers = [], []
    for query in queries:
        start = time.perf_counter()
        answers.append(run(query))
        times.append(time.perf_counter() - start)
    return times, answers


def faiss_answers(lims: np.ndarray, distances: np.ndarray, labels: np.ndarray) -> list[Answer]:
    return [
        sorted(zip(distances[lo:hi].astype(int).tolist(), labels[lo:hi].tolist(), strict=True))
        for lo, hi in itertools.pairwise(lims)
    ]


def faiss_single(index: faiss.IndexBinary) -> Callable[[np.ndarray], Answer]:
    def run(query: np.ndarray) -> Answer:
        return faiss_answers(*index.range_search(query[np.newaxis], RADIUS + 1))[0]

    return run


def ours_single(index: PdqIndex) -> Callable[[np.ndarray], Answer]:
    def run(query: np.ndarray) -> Answer:
        ids, distances = index.search(query, RADIUS)
        return list(zip(distances.tolist(), ids.tolist(), strict=True))

    return run


def ms(times: list[float]) -> str:
    p50, mean = 1e3 * statistics.median(times), 1e3 * statistics.fmean(times)
    return f"p50 {p50:8.3f} ms  mean {mean:8.3f} ms"


def check(name: str, answers: list[Answer], reference: list[Answer]) -> None:
    wrong = sum(a != b for a, b in zip(answers, reference, strict=True))
    found = sum(len(a) for a in reference)
    if wrong:
        print(f"  FAIL {name}: {wrong} of {len(reference)} answers differ from flat")
    else:
        print(f"  ok   {name}: all {len(reference)} answers identical to flat ({found} matches)")


def bench_faiss(codes: np.ndarray, queries: np.ndarray) -> dict[str, object]:
    out: dict[str, object] = {}
    before, start = rss(), time.perf_counter()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    out["flat_build"] = time.perf_counter() - start
    out["flat_rss"] = rss() - before
    threads = faiss.omp_get_max_threads()
    for label, count in (("flat", threads), ("flat-1thread", 1)):
        faiss.omp_set_num_threads(count)
        out[label] = timed_each(faiss_single(flat), queries)
    faiss.omp_set_num_threads(threads)
    start = time.perf_counter()
    out["flat_batch_answers"] = faiss_answers(*flat.range_search(queries, RADIUS + 1))
    out["flat_batch"] = time.perf_counter() - start
    del flat
    before, start = rss(), time.perf_counter()
    hma = faiss.IndexBinaryMultiHash(256, 16, 16)
    hma.nflip = 1
    hma.add(codes)
    out["hma_build"] = time.perf_counter() - start
    out["hma_rss"] = rss() - before
    out["hma"] = timed_each(faiss_single(hma), queries)
    start = time.perf_counter()
    out["hma_batch_answers"] = faiss_answers(*hma.range_search(queries, RADIUS + 1))
    out["hma_batch"] = time.perf_counter() - start
    return out


def bench_ours(codes: np.ndarray, queries: np.ndarray, workdir: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    size = len(codes)
    ids = np.arange(size, dtype=np.int64)
    before, start = rss(), time.perf_counter()
    index = PdqIndex.build(codes, ids)
    out["build"] = time.perf_counter() - start
    out["rss"] = rss() - before
    out["nbytes"] = index.nbytes
    out["params"] = index.snapshot.main.params
    out["ours"] = timed_each(ours_single(index), queries)
    index.search_batch(queries[:4], RADIUS)
    start = time.perf_counter()
    batch = index.search_batch(queries, RADIUS)
    out["batch"] = time.perf_counter() - start
    out["batch_answers"] = [list(zip(d.tolist(), i.tolist(), strict=True)) for i, d in batch]
    start = time.perf_counter()
    index.save(workdir / "pdq")
    out["save"] = time.perf_counter() - start
    for mmap in (True, False):
        start = time.perf_counter()
        loaded = PdqIndex.load(workdir / "pdq", mmap=mmap)
        out[f"load_{mmap}"] = time.perf_counter() - start
        out[f"loaded_{mmap}"] = timed_each(ours_single(loaded), queries)
        del loaded
    rng = np.random.default_rng(1)
    added = rng.integers(0, 256, (ADDS, 32), dtype=np.uint8)
    start = time.perf_counter()
    index.add(added, np.arange(size, size + ADDS, dtype=np.int64))
    found, _ = index.search(added[-1], 0)
    out["adds_visible"] = time.perf_counter() - start
    assert size + ADDS - 1 in found.tolist()
    start = time.perf_counter()
    index.compact()
    out["compact"] = time.perf_counter() - start
    return out


def report(size: int, queries: np.ndarray, theirs: dict, ours: dict) -> None:
    flat_name = min(("flat", "flat-1thread"), key=lambda k: statistics.median(theirs[k][0]))
    flat_times, reference = theirs[flat_name]
    mean_flat = statistics.fmean(flat_times)
    print(f"\n--- {size:,} codes, {len(queries)} queries, radius {RADIUS} ---")
    print(f"  PdqIndex parameters: {ours['params']}")
    for label, (times, _) in (
        ("flat (faiss IndexBinaryFlat, default threads)", theirs["flat"]),
        ("flat (faiss IndexBinaryFlat, 1 thread)", theirs["flat-1thread"]),
        ("HMA (faiss IndexBinaryMultiHash 16x16, nflip=1)", theirs["hma"]),
        ("PdqIndex", ours["ours"]),
        ("PdqIndex, loaded with mmap", ours["loaded_True"]),
        ("PdqIndex, loaded into memory", ours["loaded_False"]),
    ):
        print(f"  single query  {label:50s} {ms(times)}")
    print(f"  baseline 'flat' = {flat_name}")
    for label, times in (("HMA-MIH", theirs["hma"][0]), ("PdqIndex", ours["ours"][0])):
        ratio = statistics.median(flat_times) / statistics.median(times)
        mean_ratio = mean_flat / statistics.fmean(times)
        print(f"  {label} {ratio:.1f}x faster than flat per single query", end="")
        print(f" (p50; mean {mean_ratio:.1f}x)")
    count = len(queries)
    for label, seconds in (
        ("flat", theirs["flat_batch"]),
        ("HMA", theirs["hma_batch"]),
        ("PdqIndex", ours["batch"]),
    ):
        print(f"  batch of {count}  {label:9s} {count / seconds:12,.0f} queries/s")
    print(f"  PdqIndex batch {theirs['flat_batch'] / ours['batch']:.1f}x flat's batch throughput")
    print(f"  build  flat {theirs['flat_build']:.2f} s  HMA {theirs['hma_build']:.2f} s", end="")
    print(f"  PdqIndex {ours['build']:.2f} s")
    print(
        f"  memory PdqIndex arrays {ours['nbytes'] / size:.1f} bytes/code"
        f" ({ours['nbytes'] / size / 32:.2f}x raw);"
        f" RSS growth: PdqIndex {ours['rss'] / size:.1f}, flat {theirs['flat_rss'] / size:.1f},"
        f" HMA {theirs['hma_rss'] / size:.1f} bytes/code"
    )
    print(
        f"  save {ours['save']:.2f} s; load {ours['load_True'] * 1e3:.1f} ms (mmap),"
        f" {ours['load_False'] * 1e3:.0f} ms (read into memory)"
    )
    print(
        f"  {ADDS:,} adds visible to the next query after {ours['adds_visible'] * 1e3:.1f} ms;"
        f" compact() then took {ours['compact']:.2f} s"
    )
    check("HMA single", theirs["hma"][1], reference)
    check("HMA batch", theirs["hma_batch_answers"], reference)
    check("flat batch", theirs["flat_batch_answers"], reference)
    check("PdqIndex single", ours["ours"][1], reference)
    check("PdqIndex batch", ours["batch_answers"], reference)
    check("PdqIndex loaded (mmap)", ours["loaded_True"][1], reference)
    check("PdqIndex loaded (memory)", ours["loaded_False"][1], reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    if faiss is None:
        print("bench/index.py needs faiss-cpu for its baselines: .venv/bin/pip install faiss-cpu")
        return
    for size in (int(part) for part in args.sizes.split(",")):
        codes, queries = make_data(size, args.queries, seed=size)
        with tempfile.TemporaryDirectory(prefix="bench-index-") as workdir:
            ours = bench_ours(codes, queries, Path(workdir))
        theirs = bench_faiss(codes, queries)
        report(size, queries, theirs, ours)
        del codes, ours, theirs


if __name__ == "__main__":
    main()
