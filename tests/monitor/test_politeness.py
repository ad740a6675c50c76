"""robots.txt kept per site, and the per-host gate, shared across threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from reclaim.monitor.errors import FetchRefused
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import parse_networks
from reclaim.monitor.politeness import ROBOTS_RETRY, ROBOTS_TTL, HostGate, RobotsCache, origin

from .conftest import SITE_ADDRESS, Site, send

AGENT = "Reclaim-monitor/0.1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    limits = FetchLimits(allow=parse_networks(f"{SITE_ADDRESS}/32"), retries=0)
    with Fetcher(limits) as made:
        yield made


@pytest.fixture
def robots_route(site: Site) -> Iterator[dict[str, object]]:
    """Serve robots.txt with the status and body a test sets."""
    answer: dict[str, object] = {"status": 200, "body": b"User-agent: *\nDisallow: /private/\n"}

    def route(handler) -> None:  # type: ignore[no-untyped-def]
        send(handler, int(answer["status"]), bytes(answer["body"]), "text/plain")  # type: ignore[call-overload]

    site.routes["/robots.txt"] = route
    yield answer
    del site.routes["/robots.txt"]


def _robots_hits(site: Site) -> int:
    return sum(1 for path, _ in site.hits if path == "/robots.txt")


def test_robots_are_fetched_once_a_day(
    fetcher: Fetcher, site: Site, robots_route: dict[str, object]
) -> None:
    clock = Clock()
    cache = RobotsCache(fetcher, AGENT, clock)
    before = _robots_hits(site)
    assert not cache.allowed(site.url("/private/a.jpg"))
    assert cache.allowed(site.url("/public/a.jpg"))
    assert _robots_hits(site) - before == 1
    robots_route["body"] = b"User-agent: *\nDisallow: /\n"
    clock.now += ROBOTS_TTL - 1
    assert cache.allowed(site.url("/public/a.jpg"))  # still the cached rules
    clock.now += 2
    assert not cache.allowed(site.url("/public/a.jpg"))
    assert _robots_hits(site) - before == 2


def test_unreachable_robots_close_the_site_for_an_hour(
    fetcher: Fetcher, site: Site, robots_route: dict[str, object]
) -> None:
    clock = Clock()
    cache = RobotsCache(fetcher, AGENT, clock)
    robots_route["status"] = 503
    assert not cache.allowed(site.url("/anything"))
    robots_route["status"] = 404
    clock.now += ROBOTS_RETRY + 1
    assert cache.allowed(site.url("/anything"))


def test_robots_of_a_forbidden_site_are_refused_not_guessed(fetcher: Fetcher, trap: Site) -> None:
    with pytest.raises(FetchRefused):
        RobotsCache(fetcher, AGENT).allowed(trap.url("/x", host="127.0.0.1"))
    assert trap.accepted == 0  # not one connection reached it


def test_origins() -> None:
    assert origin("HTTPS://Board.Example:8443/a?b") == "https://board.example:8443"
    assert origin("http://x.example/") != origin("https://x.example/")


def test_the_gate_spaces_requests_to_one_host_not_to_others() -> None:
    clock = Clock()
    gate = HostGate(concurrency=2, delay=1.5, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        with gate.turn("https://a.example/page"):
            pass
    assert clock.slept == [1.5, 1.5]
    with gate.turn("https://b.example/page"):
        pass
    assert clock.slept == [1.5, 1.5]  # another host starts at once
    with gate.turn("https://a.example/x", crawl_delay=10.0):
        pass
    with gate.turn("https://a.example/y", crawl_delay=10.0):
        pass
    assert clock.slept[-1] == pytest.approx(10.0)  # the site's crawl-delay, when longer


def test_the_gate_bounds_concurrency_per_host() -> None:
    gate = HostGate(concurrency=2, delay=0.0)
    inside, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with gate.turn("https://a.example/"):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2


def test_gates_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        HostGate(concurrency=0)
