"""The monitor's crawl: pages/s and media hashed/s on a 10k-page site on loopback, and peak
memory with 10k versus 100k URLs in the frontier -- in one run.

The site runs in its own process on 127.0.0.2 (the only address the crawl may reach):
page ``/p/i`` links to pages ``i*F+1 .. i*F+F`` and every tenth page shows one of a few
hundred distinct generated pictures. Baselines measured in the same run:

- pages: the same pages fetched by a plain httpx client with as many threads, no frontier,
  no database, no parsing -- the ratio is what the crawl machinery costs per page;
- media: the same pictures hashed directly in this process, one after another -- the ratio
  is what fetching, isolating the decoder, storing and matching cost per picture;
- memory: peak RSS of a crawl that stops after its frontier holds 10k URLs versus one that
  stops at 100k (pages with 1,000 links each) -- the ratio must stay near 1.0.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from PIL import Image

from reclaim.config import Settings
from reclaim.demo.media import render_scene

HOST = "127.0.0.2"


def _site(port: int, pages: int, fanout: int, pictures: int, every: int, ready: object) -> None:
    cache: dict[int, bytes] = {}

    def picture(number: int) -> bytes:
        if number not in cache:
            out = io.BytesIO()
            Image.fromarray(render_scene(320, 240, 1000 + number)).save(out, "JPEG", quality=85)
            cache[number] = out.getvalue()
        return cache[number]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.startswith("/img/"):
                body, kind = picture(int(self.path[5:].split(".")[0])), "image/jpeg"
            elif self.path.startswith("/p/") and self.path[3:].isdigit():
                number = int(self.path[3:])
                links = "".join(
                    f'<a href="/p/{n}">{n}</a>'
                    for n in range(number * fanout + 1, min(pages, number * fanout + fanout + 1))
                )
                shown = number // every % pictures
                image = f'<img src="/img/{shown}.jpg">' if number % every == 0 else ""
                body = f"<html><body>{links}{image}</body></html>".encode()
                kind = "text/html"
            elif self.path == "/robots.txt":
                body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
            else:
                body, kind = b"no", "text/plain"
            self.send_response(200 if kind != "text/plain" or self.path == "/robots.txt" else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, port), Handler)
    server.daemon_threads = True
    ready.set()  # type: ignore[attr-defined]
    server.serve_forever()


def start_site(
    pages: int, fanout: int, pictures: int, every: int = 10
) -> tuple[multiprocessing.Process, str]:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    process = multiprocessing.Process(
        target=_site, args=(port, pages, fanout, pictures, every, ready), daemon=True
    )
    process.start()
    ready.wait(30)
    return process, f"http://{HOST}:{port}"


def settings_for(folder: Path, workers: int) -> Settings:
    return Settings(
        data_dir=folder,
        fetch_allow_networks=f"{HOST}/32",
        monitor_workers=workers,
        monitor_host_concurrency=workers,
        fetch_retries=0,
        log_level="WARNING",
    )


def crawl(base: str, folder: Path, *, workers: int, max_pages: int, stop_after: int | None) -> dict:
    """Crawl the site from /p/0; returns counts, seconds and the frontier size."""
    from sqlalchemy import func, select

    from reclaim.cases import service as cases
    from reclaim.monitor.crawl import Visit
    from reclaim.monitor.engine import Monitor
    from reclaim.monitor.models import FrontierUrl
    from reclaim.monitor.service import SourceOptions, add_source
    from reclaim.store import open_database

    settings = settings_for(folder, workers)
    database = open_database(settings)
    with database.session() as session:
        add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url=f"{base}/p/0",
            actor="bench",
            options=SourceOptions(min_delay=0.0, max_depth=100, max_pages=max_pages),
        )
    visited = 0
    monitor: Monitor

    def listener(what: str, event: object) -> None:
        nonlocal visited
        if isinstance(event, Visit):
            visited += 1
            if stop_after is not None and visited >= stop_after:
                monitor.stop()

    monitor = Monitor(database, settings, listener=listener)
    started = time.perf_counter()
    tally = monitor.run_once()
    seconds = time.perf_counter() - started
    monitor.close()
    with database.session() as session:
        frontier = session.scalar(select(func.count()).select_from(FrontierUrl)) or 0
    database.dispose()
    return {
        "pages": tally.pages,
        "hashed": tally.hashed,
        "media": tally.media,
        "seconds": seconds,
        "frontier": frontier,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def raw_fetch(base: str, pages: int, workers: int) -> float:
    """Pages/s of a plain client fetching every page, nothing else."""
    with httpx.Client(trust_env=False) as client:

        def get(number: int) -> int:
            return len(client.get(f"{base}/p/{number}").content)

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(get, range(pages)))
        return pages / (time.perf_counter() - started)


def direct_hashing(base: str, pictures: int) -> float:
    """Pictures/s hashed in this process straight from files (the hashing alone)."""
    from reclaim.signals.filehash import HashRequest, hash_file
    from reclaim.signals.source import HashOptions

    options = HashOptions(query_regions=True)
    with tempfile.TemporaryDirectory() as scratch, httpx.Client(trust_env=False) as client:
        paths = []
        for number in range(pictures):
            path = Path(scratch) / f"{number}.jpg"
            path.write_bytes(client.get(f"{base}/img/{number}.jpg").content)
            paths.append(path)
        started = time.perf_counter()
        for path in paths:
            hash_file(HashRequest(str(path), options))
        return pictures / (time.perf_counter() - started)


def memory_child(base: str, stop_after: int) -> None:
    """Run in a child process: crawl until ``stop_after`` pages, print JSON."""
    with tempfile.TemporaryDirectory() as folder:
        result = crawl(base, Path(folder), workers=4, max_pages=1_000_000, stop_after=stop_after)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--pictures", type=int, default=300)
    parser.add_argument("--memory-child", nargs=2, metavar=("BASE", "STOP"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return

    site, base = start_site(args.pages, fanout=10, pictures=args.pictures)
    try:
        raw = raw_fetch(base, args.pages, args.workers)
        with tempfile.TemporaryDirectory() as folder:
            result = crawl(
                base, Path(folder), workers=args.workers, max_pages=args.pages, stop_after=None
            )
    finally:
        site.terminate()
    pages_per_s = result["pages"] / result["seconds"]
    print(
        f"crawl of {result['pages']} pages ({result['media']} media, {result['hashed']} hashed) "
        f"in {result['seconds']:.1f} s with {args.workers} workers"
    )
    print(
        f"pages/s: crawl {pages_per_s:.1f}, plain fetching {raw:.1f}, ratio {pages_per_s / raw:.3f}"
    )

    # Media: every page of a small site shows a picture of its own.
    pictures = args.pictures
    site, base = start_site(pictures, fanout=10, pictures=pictures, every=1)
    try:
        direct = direct_hashing(base, min(pictures, 100))
        with tempfile.TemporaryDirectory() as folder:
            media = crawl(
                base, Path(folder), workers=args.workers, max_pages=pictures, stop_after=None
            )
    finally:
        site.terminate()
    hashed_per_s = media["hashed"] / media["seconds"]
    print(
        f"media: {media['hashed']} distinct pictures hashed in a {media['pages']}-page crawl, "
        f"{hashed_per_s:.1f}/s; hashing alone in one process {direct:.1f}/s, "
        f"ratio {hashed_per_s / direct:.3f}"
    )

    wide, wide_base = start_site(1_000_000, fanout=1000, pictures=args.pictures)
    try:
        peaks = {}
        for label, stop in (("10k", 10), ("100k", 100)):
            done = subprocess.run(
                [sys.executable, __file__, "--memory-child", wide_base, str(stop)],
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[label] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        wide.terminate()
    small, large = peaks["10k"], peaks["100k"]
    print(
        f"peak memory: {small['frontier']} frontier URLs {small['peak_rss_mb']:.0f} MB, "
        f"{large['frontier']} URLs {large['peak_rss_mb']:.0f} MB, "
        f"ratio {large['peak_rss_mb'] / small['peak_rss_mb']:.2f} (flat is 1.0)"
    )


if __name__ == "__main__":
    main()
