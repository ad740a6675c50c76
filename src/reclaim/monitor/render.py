"""Rendering pages that need JavaScript: Debian's Chromium, driven by Playwright, with the
guarding proxy as its only way out.

The browser is launched once (lazily, by the first page that needs it) with the flags the
project requires, every connection forced through :class:`~reclaim.monitor.proxy.GuardingProxy`
(loopback included), QUIC and WebRTC's direct UDP off. Each page gets a fresh context:
no cookies from earlier pages, service workers blocked, downloads refused, popups closed,
dialogs dismissed, no permissions. The page is loaded, given a moment to settle and
scrolled to the end so lazy loaders fire, within one time limit. What comes back is the
DOM after rendering and the pictures and videos the page actually loaded.

Playwright's synchronous API belongs to the thread that started it, so the browser lives
on one thread of its own and :meth:`Renderer.render` hands pages to it. Not every call a
page answers has a time limit (reading its DOM, running a script): a page that keeps the
browser busy for good (a script that never yields, a parser fed hundreds of megabytes)
would hold that thread forever, and every job queued behind it. A job over its time is
therefore ended by killing the browser -- Playwright's driver and every process it started
-- which makes the waiting call fail at once; the next job starts a fresh browser.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from reclaim.monitor.errors import FetchFailed, TimedOut, TooLarge
from reclaim.monitor.fetch import FetchLimits
from reclaim.monitor.guard import AddressPolicy, GuardedBackend, Resolver, system_resolver
from reclaim.monitor.proxy import GuardingProxy, ProxyLimits

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
GUARD_FLAGS = (
    "--proxy-bypass-list=<-loopback>",  # loopback too goes through the proxy
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--dns-prefetch-disable",
    "--disable-features=MediaRouter,DialMediaRouteProvider,Prerender2",
)
NO_WEBRTC = """
for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel"]) {
  try { delete window[name]; } catch (e) {}
}
"""
SCROLL_STEPS = 6
VIEWPORT = {"width": 1280, "height": 1600}
GRACE_SECONDS = 60.0
"""How long a job may run past its time limit before the browser is killed under it."""
T = TypeVar("T")

_launching = threading.Lock()
"""Held while a driver starts, so that the child process that appeared is known to be it."""


class RenderFailed(FetchFailed):
    """The browser could not render the page (missing, crashed, or the page failed)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page after JavaScript ran."""

    url: str
    final_url: str
    html: bytes
    media: list[tuple[str, str]] = field(default_factory=list)
    """(URL, ``image`` or ``video``) of every picture and video the page loaded."""


class GuardedBrowser:
    """One headless Chromium behind the guarding proxy, on a thread of its own. Jobs run
    there one at a time (:meth:`run`); each makes its pages in :meth:`new_context`."""

    def __init__(
        self,
        limits: FetchLimits,
        *,
        resolver: Resolver = system_resolver,
        executable: str = CHROMIUM,
        timeout: float = 30.0,
        max_bytes: int | None = None,
    ) -> None:
        self.limits = limits
        self.timeout = timeout
        self._executable = executable
        self._backend = GuardedBackend(AddressPolicy(limits.allow), resolver)
        self.proxy = GuardingProxy(
            self._backend,
            ProxyLimits(
                connect_timeout=limits.connect_timeout,
                idle_timeout=limits.read_timeout,
                total_timeout=max(limits.total_timeout, timeout),
                max_bytes=max_bytes or limits.video_bytes,
            ),
        )
        self._thread = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="reclaim-browser"
        )
        self._playwright: Any = None
        self._browser: Any = None
        self._driver: int | None = None  # the Playwright driver's process id
        self._killed = threading.Event()  # the browser was killed under a job

    def run(self, job: Callable[[], T], what: str) -> T:
        """Run ``job`` on the browser's thread (starting Chromium first if needed)."""

        def started() -> T:
            if self._killed.is_set() or (
                self._browser is not None and not self._browser.is_connected()
            ):
                with contextlib.suppress(Exception):  # killed, or crashed: start afresh
                    self._shut()
                self._killed.clear()
            self._start()
            return job()

        future = self._thread.submit(started)
        try:
            return future.result(timeout=self.timeout + GRACE_SECONDS)
        except concurrent.futures.TimeoutError:
            log.warning("%s: no answer after %g s; the browser is killed", what, self.timeout)
            self._kill()
            with contextlib.suppress(Exception):  # it fails now that the browser is gone
                future.result(timeout=GRACE_SECONDS)
            raise TimedOut(f"{what}: took longer than {self.timeout:g} s") from None

    def new_context(self, **options: Any) -> Any:
        """A fresh context with the guards on (call on the browser's thread)."""
        context = self._browser.new_context(
            user_agent=self.limits.user_agent,
            service_workers="block",
            accept_downloads=False,
            java_script_enabled=True,
            **{"viewport": VIEWPORT, **options},
        )
        context.add_init_script(NO_WEBRTC)
        pages: list[Any] = []

        def opened(page: Any) -> None:
            if pages:  # a popup or a window.open: closed at once
                page.close()
            else:
                pages.append(page)
                page.on("dialog", lambda dialog: dialog.dismiss())

        context.on("page", opened)
        return context

    def close(self) -> None:
        if self._browser is not None or self._playwright is not None:
            shut = self._thread.submit(self._shut)
            try:
                shut.result(timeout=GRACE_SECONDS)
            except concurrent.futures.TimeoutError:  # a job still holds the thread
                self._kill()
            except Exception as error:
                log.warning("the browser did not close cleanly: %s", error)
        self._thread.shutdown(wait=True)
        self.proxy.close()
        self._backend.close()

    def _start(self) -> None:
        if self._browser is not None:
            return
        if not Path(self._executable).exists():
            raise RenderFailed(
                f"the browser needs Chromium at {self._executable} (Debian package chromium)"
            )
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        with _launching:
            before = set(_children(os.getpid()))
            self._playwright = sync_playwright().start()
            drivers = [
                pid
                for pid in _children(os.getpid())
                if pid not in before and b"run-driver" in _command_line(pid)
            ]
        self._driver = drivers[0] if len(drivers) == 1 else None
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self._executable,
                args=[*BASE_FLAGS, *GUARD_FLAGS, f"--proxy-server={self.proxy.url}"],
                timeout=60_000,
            )
        except PlaywrightError as error:
            self._playwright.stop()
            self._playwright = None
            raise RenderFailed(f"Chromium did not start: {error}") from None

    def _kill(self) -> None:
        """Kill the driver and every process under it (Chromium's): any call waiting on
        the browser fails at once. Safe from any thread."""
        driver = self._driver
        if driver is None:
            log.error("the browser cannot be killed: its driver process is not known")
            return
        self._killed.set()
        for pid in [*_descendants(driver), driver]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def _shut(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            self._browser = None
            if self._playwright is not None:
                self._playwright.stop()
            self._playwright = None
            self._driver = None


class Renderer:
    """Renders pages for the monitor: the DOM after JavaScript and the media it loaded."""

    def __init__(
        self,
        limits: FetchLimits,
        *,
        resolver: Resolver = system_resolver,
        executable: str = CHROMIUM,
        timeout: float = 30.0,
    ) -> None:
        self.limits = limits
        self.timeout = timeout
        self.browser = GuardedBrowser(
            limits, resolver=resolver, executable=executable, timeout=timeout
        )
        self.proxy = self.browser.proxy

    def render(self, url: str) -> Rendered:
        """Render ``url``; :class:`RenderFailed` or :class:`TimedOut` when it cannot be."""
        return self.browser.run(lambda: self._render(url), f"rendering {url}")

    def close(self) -> None:
        self.browser.close()

    def _render(self, url: str) -> Rendered:
        from playwright.sync_api import Error as PlaywrightError

        deadline = time.monotonic() + self.timeout
        media: dict[str, str] = {}
        context = self.browser.new_context()
        try:
            page = context.new_page()

            def loaded(response: Any) -> None:
                kind = response.request.resource_type
                if kind in ("image", "media") and response.status == 200:
                    media.setdefault(response.url, "image" if kind == "image" else "video")

            page.on("response", loaded)
            try:
                page.goto(url, wait_until="load", timeout=ms_left(deadline))
                settle(page, deadline)
                html = page.content().encode("utf-8")
                final_url = page.url
            except PlaywrightError as error:
                raise failure_of(url, "rendering", error) from None
        finally:
            context.close()
        if len(html) > self.limits.page_bytes:
            raise TooLarge(f"{url}: the rendered page is over {self.limits.page_bytes} bytes")
        return Rendered(url, final_url, html, list(media.items()))


def settle(page: Any, deadline: float) -> None:
    """Scroll a loaded page to its end (lazy loaders fire) and let the network go quiet,
    within ``deadline``; an endless page is taken as it is when time is up."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(SCROLL_STEPS):
        if ms_left(deadline) < 500:
            break
        page.evaluate("window.scrollBy(0, window.innerHeight)")
        page.wait_for_timeout(150)
    with contextlib.suppress(PlaywrightError):  # a page never quiet is read as it is
        page.wait_for_load_state("networkidle", timeout=min(3000, ms_left(deadline)))


def failure_of(url: str, doing: str, error: Exception) -> FetchFailed:
    message = str(error).splitlines()[0]
    if "Timeout" in message:
        return TimedOut(f"{url}: {doing} timed out ({message})")
    return RenderFailed(f"{url}: {doing} failed: {message}")


def ms_left(deadline: float) -> float:
    return max(0.0, (deadline - time.monotonic()) * 1000)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(pid: int) -> list[int]:
    """Every process under ``pid``, children before their own children."""
    found: list[int] = []
    todo = [pid]
    while todo:
        children = _children(todo.pop())
        found.extend(children)
        todo.extend(children)
    return found
