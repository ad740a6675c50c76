"""``/v1/match`` over loopback against a bank of 1M PDQ hashes: requests/s, p50/p99.

A real ``reclaim serve`` (uvicorn) runs in a child process on 127.0.0.1 against a SQLite
database this script fills (random hashes plus planted near-duplicates). The baseline in
the same run is the same server answering for a key whose organisation has one banked
hash: the ratio is what searching 1M hashes adds to the fixed cost of a request.
Bounded: a fixed number of requests per phase; it stops by itself. Target p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import insert

from reclaim.banks import platforms
from reclaim.banks import service as banks
from reclaim.banks.models import BankItem, ItemSignal
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.signals import signal_from_json
from reclaim.store import open_database, utcnow


def fill(settings: Settings, count: int, seed: int = 5) -> tuple[str, str, np.ndarray]:
    """Bank ``count`` random verified PDQ items; return a key for them, a key for a
    one-item organisation, and the stored codes."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(count, 32), dtype=np.uint8)
    database = open_database(settings)
    with database.session() as session:
        org = cases.get_org(session)
        bank = banks.create_bank(session, org=org, name="big")
        tiny_org = cases.create_org(session, slug="tiny")
        tiny = banks.create_bank(session, org=tiny_org, name="tiny")
        banks.add_items(
            session,
            bank=tiny,
            actor="bench",
            verified=True,
            items=[
                banks.NewItem(
                    [signal_from_json({"type": "pdq", "value": codes[0].tobytes().hex()})],
                    "one",
                    "bench",
                )
            ],
        )
        big_key = platforms.create_key(session, org=org, name="bench", banks_=[bank])[1]
        tiny_key = platforms.create_key(session, org=tiny_org, name="bench", banks_=[tiny])[1]
        bank_id = bank.id
    now = utcnow()
    chunk = 50_000
    for start in range(0, count, chunk):
        with database.session() as session:
            rows = range(start, min(count, start + chunk))
            result = session.execute(
                insert(BankItem).returning(BankItem.id),
                [
                    {
                        "public_id": secrets.token_hex(8),
                        "bank_id": bank_id,
                        "label": f"item {i}",
                        "source": "bench",
                        "added_by": "bench",
                        "added": now,
                        "verified": True,
                        "status": "active",
                    }
                    for i in rows
                ],
            )
            ids = [row[0] for row in result]
            session.execute(
                insert(ItemSignal),
                [
                    {
                        "item_id": item_id,
                        "signal_type": "pdq",
                        "value": codes[i].tobytes().hex(),
                        "quality": 100,
                    }
                    for item_id, i in zip(ids, rows, strict=True)
                ],
            )
    database.dispose()
    return big_key, tiny_key, codes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def queries(codes: np.ndarray, count: int, seed: int = 9, most_flips: int = 40) -> list[str]:
    """Near-duplicates (0 to ``most_flips`` bits flipped) of stored codes, and strangers,
    half and half."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        if i % 2:
            out.append(rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex())
            continue
        code = np.unpackbits(codes[rng.integers(0, len(codes))])
        flips = rng.choice(256, size=int(rng.integers(0, most_flips + 1)), replace=False)
        code[flips] ^= 1
        out.append(np.packbits(code).tobytes().hex())
    return out


def run_phase(url: str, key: str, values: list[str], threads: int) -> tuple[list[float], float]:
    headers = {"Authorization": f"Bearer {key}"}

    def one(client: httpx.Client, value: str) -> float:
        start = time.perf_counter()
        response = client.post(
            f"{url}/v1/match", headers=headers, json={"signals": [{"type": "pdq", "value": value}]}
        )
        response.raise_for_status()
        return time.perf_counter() - start

    clients = [httpx.Client(timeout=60) for _ in range(threads)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        latencies = list(
            pool.map(lambda iv: one(clients[iv[0] % threads], iv[1]), enumerate(values))
        )
    elapsed = time.perf_counter() - start
    for client in clients:
        client.close()
    return latencies, len(values) / elapsed


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reclaim-api-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), api_rate_per_minute=10_000_000)
        start = time.perf_counter()
        big_key, tiny_key, codes = fill(settings, args.hashes)
        print(f"filled {args.hashes:,} hashes in {time.perf_counter() - start:.1f} s")
        port = free_port()
        env = {**os.environ, "RECLAIM_DATA_DIR": tmp, "RECLAIM_API_RATE_PER_MINUTE": "10000000"}
        server = subprocess.Popen(
            [sys.executable, "-m", "reclaim.cli", "serve", "--port", str(port)], env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{url}/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            start = time.perf_counter()
            run_phase(url, big_key, queries(codes, 1), 1)  # builds the matcher
            print(
                f"first request (loads {args.hashes:,} hashes into the index): "
                f"{time.perf_counter() - start:.1f} s"
            )
            run_phase(url, tiny_key, queries(codes, 20), 1)
            values = queries(codes, args.requests)
            base, base_rate = run_phase(url, tiny_key, values, 1)
            single, single_rate = run_phase(url, big_key, values, 1)
            _, many_rate = run_phase(url, big_key, values, 4)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"baseline (1 banked hash), 1 client: p50 {pct(base, 50):.2f} ms, "
        f"p99 {pct(base, 99):.2f} ms, {base_rate:.0f} req/s"
    )
    print(
        f"{args.hashes:,} hashes, 1 client:     p50 {pct(single, 50):.2f} ms, "
        f"p99 {pct(single, 99):.2f} ms, {single_rate:.0f} req/s   (target p99 < 50 ms)"
    )
    print(f"  ratio to baseline: p50 {statistics.median(single) / statistics.median(base):.2f}x")
    print(f"{args.hashes:,} hashes, 4 clients:    {many_rate:.0f} req/s")


if __name__ == "__main__":
    main()
