"""Hashing in the survivor's browser (the portal's page.js in headless Chromium) next to the
server's Python on the same files, in one run.

- Pictures: JPEGs it generates, each to the full banked signal (PDQ with quality, the 8
  rotations and mirrors, the grid, the anchored regions; SHA-256 and MD5), decoded and
  hashed in the portal's worker; the baseline is ``hash_file`` (numba) in this process on
  the same files. Pictures per second, and the ratio browser / Python.
- Video: a generated H.264 clip (keyframe every 2 s), vPDQ at 1 frame per second (plus its
  SHA-256 and MD5) by video.js -- seeks on the page, PDQ in the worker -- against
  ``hash_file`` on the same file: seconds of video hashed per second, and the ratio. Also
  the longest the page's thread went without a break while hashing.

``--quick`` uses fewer, smaller files (a smoke run, about half a minute).
"""

from __future__ import annotations

import argparse
import mimetypes
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reclaim.demo.media import make_photo, make_video
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.web.portal.security import CSP

STATIC = Path(__file__).resolve().parents[1] / "src" / "reclaim" / "web" / "static"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8" /><title>bench</title>
<script type="module" src="/bench/bench.js"></script></head>
<body><input type="file" id="files" multiple /></body></html>
"""
SCRIPT = """
import { hashFiles } from "/static/hashing/page.js";

globalThis.bench = async (options) => {
  const files = Array.from(document.getElementById("files").files);
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  const start = performance.now();
  const outcomes = await hashFiles(files, options);
  const ms = performance.now() - start;
  clearInterval(ticker);
  const failed = outcomes.filter((o) => o.failure).map((o) => o.failure);
  return { ms, failed, longest, frames: outcomes.map((o) => o.result?.signals[0].frames?.length) };
};
document.body.dataset.ready = "1";
"""


def serve(roots: dict[str, Path]) -> ThreadingHTTPServer:
    """/static/ from the tree and the bench's page, under the portal's CSP, on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            prefix, _, rest = self.path.split("?")[0].lstrip("/").partition("/")
            root = roots.get(prefix)
            target = (root / rest).resolve() if root else None
            if root is None or target is None or not target.is_file():
                self.send_error(404)
                return
            if not target.is_relative_to(root.resolve()):
                self.send_error(403)
                return
            body = target.read_bytes()
            kind = "text/javascript" if target.suffix == ".js" else None
            self.send_response(200)
            self.send_header("Content-Type", kind or mimetypes.guess_type(target.name)[0] or "")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def best(runs: int, run: Callable[[], float]) -> float:
    """The shortest of ``runs`` timings (noise only ever slows)."""
    return min(run() for _ in range(runs))


def line(what: str, rate: float, unit: str) -> None:
    print(f"  {what:<44}{rate:8.2f} {unit}")


def in_browser(page: Any, paths: list[Path]) -> dict[str, Any]:
    page.set_input_files("#files", [str(p) for p in paths])
    result: dict[str, Any] = page.evaluate("(o) => globalThis.bench(o)", {})
    if result["failed"]:
        raise SystemExit(f"the browser could not hash: {result['failed']}")
    return result


def in_python(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        hash_file(HashRequest(str(path)))
    return time.perf_counter() - start


def bench_images(page: Any, folder: Path, count: int, size: tuple[int, int], runs: int) -> None:
    paths = [make_photo(folder / f"photo{i}.jpg", *size, seed=i, quality=88) for i in range(count)]
    in_browser(page, paths[:1])  # compile the page's and the worker's modules
    in_python(paths[:1])  # and numba's
    browser = best(runs, lambda: in_browser(page, paths)["ms"] / 1000)
    python = best(runs, lambda: in_python(paths))
    b_rate, p_rate = count / browser, count / python
    print(f"pictures: {count} JPEGs of {size[0]}x{size[1]}, full banked signal + SHA-256 + MD5")
    line("Python hash_file (numba), one thread", p_rate, "pictures/s   (baseline)")
    line("Chromium, page.js + one worker", b_rate, f"pictures/s   ratio {b_rate / p_rate:.2f}x")


def bench_video(page: Any, folder: Path, seconds: float, size: tuple[int, int], runs: int) -> None:
    path = make_video(
        folder / "clip.mp4", width=size[0], height=size[1], seconds=seconds, gop_seconds=2.0
    )
    warm = make_video(folder / "warm.mp4", width=320, height=180, seconds=2.0)
    in_browser(page, [warm])
    in_python([warm])
    results: list[dict[str, Any]] = []

    def browser_run() -> float:
        results.append(in_browser(page, [path]))
        return float(results[-1]["ms"]) / 1000

    browser = best(runs, browser_run)
    python = best(runs, lambda: in_python([path]))
    b_rate, p_rate = seconds / browser, seconds / python
    stall = statistics.median(r["longest"] for r in results)
    print(
        f"video: {seconds:g} s of {size[0]}x{size[1]} H.264 at 30 fps, keyframe every 2 s, "
        f"vPDQ at 1 fps ({results[0]['frames'][0]} frames) + SHA-256 + MD5"
    )
    line("Python hash_file (PyAV + numba), 2 threads", p_rate, "s of video/s   (baseline)")
    line("Chromium, video.js + one worker", b_rate, f"s of video/s   ratio {b_rate / p_rate:.2f}x")
    print(f"  the page's thread was busy at most {stall:.0f} ms at a time (median of runs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller files")
    args = parser.parse_args()
    from reclaim.monitor.render import CHROMIUM

    if not Path(CHROMIUM).exists():
        print(f"skipped: no Chromium at {CHROMIUM} (scripts/setup installs Debian's)")
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="reclaim-bench-") as tmp:
        folder = Path(tmp)
        pages = folder / "page"
        pages.mkdir()
        (pages / "index.html").write_text(PAGE)
        (pages / "bench.js").write_text(SCRIPT)
        server = serve({"static": STATIC, "bench": pages})
        try:
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                page = chromium.new_page()
                page.set_default_timeout(600_000)
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/bench/index.html")
                page.wait_for_selector("body[data-ready='1']", state="attached")
                if args.quick:
                    bench_images(page, folder, 4, (1000, 750), runs=1)
                    bench_video(page, folder, 8.0, (640, 360), runs=1)
                else:
                    bench_images(page, folder, 12, (2048, 1536), runs=2)
                    bench_video(page, folder, 30.0, (1280, 720), runs=2)
                chromium.close()
        finally:
            server.shutdown()
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
