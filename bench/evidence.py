"""Evidence: captures per minute on the demo forum, and custody-log appends and proofs per
second at 1M entries against 1k -- in one run.

- Captures: pages of the demo forum captured (screenshot, DOM, every exchange into a
  WARC, packaged and sealed) one after another with the guarded Chromium; the baseline in
  the same run is rendering the same pages (load, scroll, DOM) without keeping anything.
- Log: a custody log is filled to 1k and to 1M entries (bulk-loaded with the same hashes
  an append computes), then appends (one transaction each, subtree hashes included),
  inclusion proofs and consistency proofs are timed at each size. Proofs hold log2(n)
  hashes; the ratio 1M/1k shows how time grows.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.evidence import custody
from reclaim.evidence.keys import create_key, signer
from reclaim.evidence.merkle import MemoryStore, leaf_hash
from reclaim.evidence.models import CustodyEntry, CustodyLog, CustodyNode
from reclaim.store import open_database
from reclaim.store.envelope import MasterKey

HOST = "127.0.0.2"


def captures(pages: int) -> None:
    from reclaim.demo.site import serve
    from reclaim.evidence.capture import Capturer
    from reclaim.evidence.wacz import package
    from reclaim.monitor.fetch import Fetcher, FetchLimits
    from reclaim.monitor.guard import parse_networks
    from reclaim.monitor.render import Renderer

    site = serve(HOST, 0)
    limits = FetchLimits(allow=parse_networks(f"{HOST}/32"))
    urls = [f"{site.base_url}/thread/{1 + n % 12}" for n in range(pages)]
    renderer = Renderer(limits, timeout=30)
    fetcher = Fetcher(limits)
    capturer = Capturer(renderer.browser, fetcher)
    with tempfile.TemporaryDirectory() as folder:
        database = open_database(Settings(data_dir=Path(folder)))
        master = MasterKey.create(Path(folder) / "master.key")
        with database.session() as session:
            org = cases.get_org(session)
            create_key(session, org=org, master=master)
            seal = signer(session, org=org, master=master)
        try:
            renderer.render(urls[0])  # start the browser outside the timings
            started = time.perf_counter()
            for url in urls:
                renderer.render(url)
            rendered = time.perf_counter() - started
            started = time.perf_counter()
            sizes = []
            for url in urls:
                sizes.append(len(package(capturer.capture(url), seal).data))
            captured = time.perf_counter() - started
        finally:
            renderer.close()
            fetcher.close()
            site.close()
            database.dispose()
    per_minute, baseline = 60 * pages / captured, 60 * pages / rendered
    print(
        f"captures: {per_minute:.0f}/min (packages {statistics.median(sizes) / 1024:.0f} KB "
        f"median); rendering alone {baseline:.0f}/min; ratio {per_minute / baseline:.2f}"
    )


def log_at(size: int, appends: int, proofs: int) -> dict[str, float]:
    """Fill a log to ``size`` entries, then time appends and proofs."""
    with tempfile.TemporaryDirectory() as folder:
        database = open_database(Settings(data_dir=Path(folder)))
        with database.session() as session:
            org = cases.get_org(session)
            org_id, slug = org.id, org.slug
        store = MemoryStore()
        entries, nodes = [], []
        for position in range(size):
            body = custody.canonical(
                {"log": slug, "position": position, "event": "viewed", "actor": "bench"}
            )
            entries.append({"org_id": org_id, "position": position, "body": body.decode()})
            for level, index, value in store.append(leaf_hash(body)):
                nodes.append({"org_id": org_id, "level": level, "position": index, "hash": value})
            if len(nodes) > 200_000 or position == size - 1:
                with database.session() as session:
                    session.execute(insert(CustodyEntry), entries)
                    session.execute(insert(CustodyNode), nodes)
                entries, nodes = [], []
        with database.session() as session:
            session.execute(insert(CustodyLog), [{"org_id": org_id, "size": size}])
        started = time.perf_counter()
        for n in range(appends):
            with database.session() as session:
                org = cases.get_org(session)
                custody.append(session, org=org, event="viewed", actor="bench", details={"n": n})
        append_seconds = (time.perf_counter() - started) / appends
        rng = random.Random(7)
        with database.session() as session:
            org = cases.get_org(session)
            tree = custody.tree(session, org=org)
            total = size + appends
            started = time.perf_counter()
            lengths = []
            for _ in range(proofs):
                lengths.append(len(tree.inclusion_proof(rng.randrange(total), total)))
            inclusion_seconds = (time.perf_counter() - started) / proofs
            started = time.perf_counter()
            for _ in range(proofs):
                tree.consistency_proof(rng.randrange(1, total), total)
            consistency_seconds = (time.perf_counter() - started) / proofs
        database.dispose()
    return {
        "append_ms": append_seconds * 1000,
        "inclusion_ms": inclusion_seconds * 1000,
        "consistency_ms": consistency_seconds * 1000,
        "proof_hashes": statistics.mean(lengths),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    captures(args.pages)
    small = log_at(1_000, appends=200, proofs=200)
    large = log_at(args.entries, appends=200, proofs=200)
    for name, result in (("1k", small), (f"{args.entries // 1000}k", large)):
        print(
            f"log at {name} entries: append {result['append_ms']:.2f} ms "
            f"({1000 / result['append_ms']:.0f}/s), inclusion proof "
            f"{result['inclusion_ms']:.2f} ms ({result['proof_hashes']:.1f} hashes), "
            f"consistency proof {result['consistency_ms']:.2f} ms"
        )
    print(
        "ratio large/1k: append "
        f"{large['append_ms'] / small['append_ms']:.2f}, inclusion proof "
        f"{large['inclusion_ms'] / small['inclusion_ms']:.2f}, proof size "
        f"{large['proof_hashes'] / small['proof_hashes']:.2f} (log2 ratio "
        f"{(args.entries.bit_length()) / (1000).bit_length():.2f})"
    )


if __name__ == "__main__":
    main()
