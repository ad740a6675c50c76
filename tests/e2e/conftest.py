"""What the end-to-end tests share: `reclaim serve --demo` in a process of its own, and
Debian's Chromium."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.monitor.conftest import require_chromium

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Server:
    url: str
    data: Path
    media: Path
    env: dict[str, str]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    data = tmp_path_factory.mktemp("serve")
    env = {
        **os.environ,
        "RECLAIM_DATA_DIR": str(data),
        "RECLAIM_PORTAL_ARGON2_MEMORY_KIB": "8192",
        "RECLAIM_PORTAL_ARGON2_TIME_COST": "1",
    }
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reclaim.cli",
            "serve",
            "--demo",
            "--no-worker",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        media_line = process.stdout.readline()
        assert "running at" in first, first
        media = Path(re.search(r"from (\S+) at", media_line).group(1))  # type: ignore[union-attr]
        _wait_for(f"http://127.0.0.1:{port}/")
        yield Server(f"http://127.0.0.1:{port}", data / "demo-portal", media, env)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(url: str) -> None:
    import time
    import urllib.request

    for _ in range(300):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@pytest.fixture(scope="module")  # a sync Playwright left running blocks the next one
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    from reclaim.monitor.render import CHROMIUM

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield launched
        launched.close()


def shoot(page: Any, path: Path) -> None:
    """A full-page screenshot of ``page`` at ``path`` (for the documentation). Chromium
    now and then answers a capture on a loaded machine with "Unable to capture
    screenshot": taken once more then, as it is not what the test is about."""
    from playwright.sync_api import Error as PlaywrightError

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(path), full_page=True)
    except PlaywrightError as error:
        if "Unable to capture screenshot" not in str(error):
            raise
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=True)
