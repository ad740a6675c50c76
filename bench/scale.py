"""Scale-out on one machine: matcher replicas over a 10M-hash bank, and crawl workers.

Everything runs as a deployment runs it: a throwaway PostgreSQL cluster and Redis server
(Debian's packages, started here on Unix sockets), ``reclaim serve --role matcher``
replicas on loopback ports, ``reclaim worker`` processes. Measured in one run:

- cold start: one replica reading every banked hash from PostgreSQL, then saving its
  snapshot; and a start from that snapshot (what every other replica does);
- match throughput: /v1/match with batches of 100 hashes (half near-duplicates of banked
  ones, half strangers), spread round-robin over 1, 2 and 4 replicas that share the
  snapshot's pages; hashes/s and the ratio to one replica, request p50/p99, and each
  replica's memory split into private and shared (the memory-mapped snapshot) bytes;
- add to visible: a hash banked in PostgreSQL, then looked up on every replica at once
  until all find it (lookups apply the change log first);
- crawl: pages/s of the monitor over a generated site on 127.0.0.2, 1 versus 2 worker
  processes, each taking the fetch, hash and match queues (PostgreSQL frontier and media
  work, Redis queues and politeness gate), and how long until every medium was matched.

On a 2-core machine, replicas beyond two share the same cores: the ratio for 4 shows that
limit, not the design's. See docs/scale.md for the projection to 100M hashes.

    .venv/bin/python bench/scale.py [--hashes 10000000] [--seconds 20] [--pages 2000]
        [--part all|matchers|crawl]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.services import PostgresCluster, RedisServer, postgres, redis_server  # noqa: E402

from api import free_port, queries  # noqa: E402  (bench/api.py)
from crawl import HOST, start_site  # noqa: E402  (bench/crawl.py: the generated site)
from reclaim.banks import platforms  # noqa: E402
from reclaim.banks import service as banks  # noqa: E402
from reclaim.cases import service as cases  # noqa: E402
from reclaim.config import Settings  # noqa: E402
from reclaim.signals import PdqSignal  # noqa: E402
from reclaim.store import open_database  # noqa: E402

BATCH = 100


def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def fill(url: str, count: int, seed: int = 5) -> tuple[str, np.ndarray]:
    """Bank ``count`` random verified PDQ hashes with PostgreSQL's COPY; an API key for them."""
    settings = Settings(database_url=url, data_dir=Path(tempfile.gettempdir()))
    database = open_database(settings)
    with database.session() as session:
        org = cases.get_org(session)
        bank = banks.create_bank(session, org=org, name="big")
        key = platforms.create_key(session, org=org, name="bench", banks_=[bank])[1]
        bank_id = bank.id
    database.dispose()
    codes = np.random.default_rng(seed).integers(0, 256, size=(count, 32), dtype=np.uint8)
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        with connection.cursor() as cursor:
            chunk = 1_000_000
            for start in range(0, count, chunk):
                rows = range(start, min(count, start + chunk))
                with cursor.copy(
                    "COPY bank_items (id, public_id, bank_id, label, source, added_by, added, "
                    "verified, status) FROM STDIN"
                ) as copy:
                    for i in rows:
                        copy.write_row(
                            (i + 1, f"{i:016x}", bank_id, f"hash {i}", "bench", "bench",
                             "2026-01-01T00:00:00+00:00", True, "active")
                        )  # fmt: skip
                hexes = codes[rows.start : rows.stop].tobytes().hex()
                with cursor.copy(
                    "COPY item_signals (id, item_id, signal_type, value, quality) FROM STDIN"
                ) as copy:
                    for n, i in enumerate(rows):
                        copy.write_row((i + 1, i + 1, "pdq", hexes[64 * n : 64 * n + 64], 100))
            for table in ("bank_items", "item_signals"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cursor.execute("ANALYZE")
        connection.commit()
    return key, codes


class Replica:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as handle:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "reclaim.cli", "serve", "--role", "matcher"),
                    *("--no-worker", "--host", "127.0.0.1", "--port", str(self.port)),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=handle,
            )

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise SystemExit(f"a replica exited:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def memory(self) -> tuple[float, float]:
        """Private and shared (file-backed) resident MiB."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile", "RssShmem"):
                fields[name] = int(value.split()[0]) / 1024
        return fields.get("RssAnon", 0.0), fields.get("RssFile", 0.0) + fields.get("RssShmem", 0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_replicas(env: dict[str, str], folder: Path, count: int) -> tuple[list[Replica], float]:
    started = time.perf_counter()
    replicas = [Replica(env, folder / f"replica-{count}-{n}.log") for n in range(count)]
    until(lambda: all(r.ready() for r in replicas), 1800, "the replicas to load")
    return replicas, time.perf_counter() - started


def drive(replicas: list[Replica], key: str, values: list[str], seconds: float) -> dict[str, float]:
    """Batches of BATCH hashes, round-robin over the replicas, from 2 threads per replica."""
    headers = {"Authorization": f"Bearer {key}"}
    batches = [values[i : i + BATCH] for i in range(0, len(values) - BATCH + 1, BATCH)]
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    counter = iter(range(10**12))

    def client(number: int) -> None:
        with httpx.Client(timeout=120) as http:
            while time.monotonic() < stop:
                n = next(counter)
                replica = replicas[n % len(replicas)]
                body = {"signals": [{"type": "pdq", "value": v} for v in batches[n % len(batches)]]}
                began = time.perf_counter()
                answer = http.post(f"{replica.url}/v1/match", headers=headers, json=body)
                answer.raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    threads = 2 * len(replicas)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))
    elapsed = time.perf_counter() - began
    return {
        "hashes_per_s": len(latencies) * BATCH / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": float(np.percentile(latencies, 99)) * 1000,
    }


def add_visible(url: str, replicas: list[Replica], key: str, adds: int) -> list[float]:
    """Seconds from an add's commit until every replica's lookup returns it."""
    settings = Settings(database_url=url, data_dir=Path(tempfile.gettempdir()))
    database = open_database(settings)
    headers = {"Authorization": f"Bearer {key}"}
    out = []
    clients = [httpx.Client(timeout=60) for _ in replicas]
    try:
        for _ in range(adds):
            value = secrets.token_hex(32)
            body = {"signals": [{"type": "pdq", "value": value}]}
            with database.session() as session:
                bank = banks.get_bank(session, org=cases.get_org(session), name="big")
                banks.add_items(
                    session,
                    bank=bank,
                    actor="bench",
                    verified=True,
                    items=[banks.NewItem([PdqSignal(value, 100)], "new", "bench")],
                )
            committed = time.perf_counter()

            def sees(
                pair: tuple[Replica, httpx.Client],
                body: dict[str, object] = body,
                committed: float = committed,
            ) -> float:
                replica, http = pair
                while True:
                    answer = http.post(f"{replica.url}/v1/match", headers=headers, json=body)
                    if answer.json()["results"][0]["matches"]:
                        return time.perf_counter() - committed

            with ThreadPoolExecutor(len(replicas)) as pool:
                out.append(max(pool.map(sees, zip(replicas, clients, strict=True))))
    finally:
        for http in clients:
            http.close()
        database.dispose()
    return out


def crawl(
    cluster: PostgresCluster, redis: RedisServer, base: str, folder: Path, workers: int, pages: int
) -> dict[str, float]:
    """Crawl the site with ``workers`` worker processes, each taking the fetch, hash and
    match queues; pages/s over the span from the first fetch to the last, and until the
    last medium was matched."""
    from sqlalchemy import func, select

    from reclaim.monitor import handoff
    from reclaim.monitor.models import FrontierUrl, Source
    from reclaim.monitor.service import SourceOptions, add_source

    name = f"crawl{workers}"
    url = cluster.create_database(name)
    redis_url = f"unix://{redis.socket}?db={workers}"  # a queue of its own
    settings = Settings(database_url=url, data_dir=folder / name, queue_url=redis_url)
    database = open_database(settings)
    with database.session() as session:
        source = add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url=f"{base}/p/0",
            actor="bench",
            options=SourceOptions(min_delay=0.0, max_depth=100, max_pages=pages),
        )
        source_id = source.id
    env = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(folder / name),
        "RECLAIM_DATABASE_URL": url,
        "RECLAIM_QUEUE_URL": redis_url,
        "RECLAIM_FETCH_ALLOW_NETWORKS": f"{HOST}/32",
        "RECLAIM_FETCH_RETRIES": "0",
        "RECLAIM_MONITOR_WORKERS": "8",
        "RECLAIM_MONITOR_HOST_CONCURRENCY": "8",
        "RECLAIM_JOBS_WORKERS": "4",
        "RECLAIM_LOG_LEVEL": "WARNING",
    }
    processes = []
    queues = ("--queue", "fetch", "--queue", "hash", "--queue", "match")
    began = time.monotonic()
    for n in range(workers):
        log = (folder / f"{name}-worker-{n}.log").open("w")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "reclaim.cli", "worker", *queues],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        )

    def finished() -> bool:
        with database.session() as session:
            row = session.get(Source, source_id)
            done = row is not None and row.last_finished is not None
            return done and handoff.outstanding(session) == 0

    try:
        until(finished, 1800, f"the crawl with {workers} workers")
        elapsed = time.monotonic() - began
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)
    with database.session() as session:
        pages, first, last = session.execute(
            select(
                func.count(), func.min(FrontierUrl.fetched_at), func.max(FrontierUrl.fetched_at)
            ).where(FrontierUrl.source_id == source_id, FrontierUrl.fetched_at.is_not(None))
        ).one()
    database.dispose()
    span = (last - first).total_seconds() if pages else 0.0
    return {
        "pages": pages,
        "seconds": span,
        "pages_per_s": pages / span if span else 0.0,
        "all_matched_s": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--adds", type=int, default=10)
    parser.add_argument(
        "--part", choices=("all", "matchers", "crawl"), default="all", help="what to measure"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.hashes:,} banked hashes", flush=True)
    work = Path(tempfile.mkdtemp(prefix="reclaim-scale-", dir="/tmp"))
    pg_root = Path(tempfile.mkdtemp(prefix="reclaim-scale-pg-"))  # the postgres user's
    with postgres(pg_root) as cluster, redis_server(work / "redis") as redis:
        if args.part in ("all", "matchers"):
            measure_matchers(cluster, redis, work, args)
        if args.part in ("all", "crawl"):
            measure_crawl(cluster, redis, work, args)


def measure_matchers(
    cluster: PostgresCluster, redis: RedisServer, work: Path, args: argparse.Namespace
) -> None:
    url = cluster.create_database("bank")
    began = time.perf_counter()
    key, codes = fill(url, args.hashes)
    print(f"filled PostgreSQL in {time.perf_counter() - began:.0f} s", flush=True)
    data = work / "matcher-data"
    env = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(data),
        "RECLAIM_DATABASE_URL": url,
        "RECLAIM_QUEUE_URL": redis.url,
        "RECLAIM_API_RATE_PER_MINUTE": "100000000",
        "RECLAIM_LOG_LEVEL": "INFO",
    }
    cold, seconds = start_replicas(env, work, 1)
    print(f"cold start (reads every hash from PostgreSQL): {seconds:.1f} s", flush=True)
    until(lambda: (data / "matchers").exists() and any((data / "matchers").rglob("current")),
          1800, "the first snapshot")  # fmt: skip
    snapshot_mb = sum(f.stat().st_size for f in (data / "matchers").rglob("*.npy")) / 2**20
    print(f"snapshot written: {snapshot_mb:.0f} MiB", flush=True)
    for replica in cold:
        replica.stop()

    values = queries(codes, 20 * BATCH, most_flips=31)
    results = {}
    for count in (1, 2, 4):
        replicas, seconds = start_replicas(env, work, count)
        print(f"{count} replica(s) ready from the snapshot in {seconds:.1f} s", flush=True)
        drive(replicas, key, values[: 2 * BATCH], 2.0)  # warm up
        results[count] = drive(replicas, key, values, args.seconds)
        memory = [r.memory() for r in replicas]
        result = results[count]
        print(
            f"{count} replica(s): {result['hashes_per_s']:,.0f} hashes/s "
            f"(ratio to 1: {result['hashes_per_s'] / results[1]['hashes_per_s']:.2f}), "
            f"request of {BATCH} p50 {result['p50_ms']:.0f} ms p99 {result['p99_ms']:.0f} ms; "
            "memory per replica private/shared MiB: "
            + ", ".join(f"{p:.0f}/{s:.0f}" for p, s in memory),
            flush=True,
        )
        if count == 4:
            visible = [v * 1000 for v in add_visible(url, replicas, key, args.adds)]
            print(
                f"add visible on all {count} replicas: p50 {statistics.median(visible):.0f} "
                f"ms, max {max(visible):.0f} ms over {len(visible)} adds",
                flush=True,
            )
        for replica in replicas:
            replica.stop()


def measure_crawl(
    cluster: PostgresCluster, redis: RedisServer, work: Path, args: argparse.Namespace
) -> None:
    process, base = start_site(pages=args.pages * 2, fanout=20, pictures=200)
    try:
        one = crawl(cluster, redis, base, work, 1, args.pages)
        two = crawl(cluster, redis, base, work, 2, args.pages)
    finally:
        process.terminate()
    print(
        f"crawl: 1 worker {one['pages_per_s']:.1f} pages/s ({one['pages']} pages), "
        f"2 workers {two['pages_per_s']:.1f} pages/s ({two['pages']} pages); "
        f"ratio {two['pages_per_s'] / one['pages_per_s']:.2f}; every medium matched after "
        f"{one['all_matched_s']:.0f} s and {two['all_matched_s']:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
