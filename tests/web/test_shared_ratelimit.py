"""Request limits shared through Redis: processes behind a load balancer share one bucket
per key, keys are kept apart and stored hashed, and a Redis outage falls back to
per-process limits instead of failing requests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from reclaim.banks import platforms
from reclaim.banks import service as banks
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.store import open_database
from reclaim.web.app import Role, create_app
from reclaim.web.ratelimit import RateLimiter
from reclaim.web.shared_ratelimit import SharedRateLimiter, rate_limiter
from tests.services import RedisServer, redis_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis", durable=False) as running:
        yield running


def test_processes_share_one_bucket_per_key(server: RedisServer) -> None:
    # Two limiters with their own connections, as two web processes have.
    first, second = (
        SharedRateLimiter(redis.Redis.from_url(server.url), 6, namespace="api") for _ in range(2)
    )
    allowed = [limiter.take("key-a") == 0 for limiter in (first, second) * 4]
    assert allowed == [True] * 6 + [False] * 2  # 6 a minute in all, not 6 each
    assert 9 < second.take("key-a") <= 10.5  # one token every 10 s, less what has passed
    assert first.take("key-b") == 0  # another key has its own bucket
    other = SharedRateLimiter(redis.Redis.from_url(server.url), 6, namespace="portal")
    assert other.take("key-a") == 0  # and another kind of limit too
    client = redis.Redis.from_url(server.url)
    stored = [k.decode() for k in client.scan_iter("reclaim.rate.*")]
    assert len(stored) == 3
    assert not [k for k in stored if "key-" in k]  # hashed: no key or address in Redis
    assert all(0 < client.pttl(k) <= 120_000 for k in stored)  # forgotten when idle


def test_an_outage_falls_back_to_limits_in_this_process(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = SharedRateLimiter(
        redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1),
        2,
        namespace="api",
    )
    assert limiter.take("k") == 0
    server.stop()
    with caplog.at_level(logging.WARNING, logger="reclaim.web.shared_ratelimit"):
        during = [limiter.take("k") for _ in range(3)]
    assert during[:2] == [0, 0]  # the process's own bucket, full
    assert during[2] > 0  # still limited
    assert "counting in this process" in caplog.text
    server.start()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reclaim.web.shared_ratelimit"):
        assert limiter.take("k") == 0  # the shared bucket had refilled a token by now
    assert "available again" in caplog.text


def test_web_processes_use_the_shared_limits_when_redis_is_configured(
    server: RedisServer, tmp_path: Path
) -> None:
    assert isinstance(rate_limiter(Settings(data_dir=tmp_path), 5, "api"), RateLimiter)
    settings = Settings(data_dir=tmp_path / "data", queue_url=server.url, api_rate_per_minute=3)
    database = open_database(settings)
    with database.session() as session:
        org = cases.get_org(session)
        bank = banks.create_bank(session, org=org, name="b")
        token = platforms.create_key(session, org=org, name="p", banks_=[bank])[1]
    database.dispose()
    body = {"signals": [{"type": "pdq", "value": "0f" * 32}]}
    headers = {"Authorization": f"Bearer {token}"}
    apps = [create_app(settings, frozenset({Role.API})) for _ in range(2)]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        codes = [c.post("/v1/match", json=body, headers=headers).status_code for c in (one, two)]
        codes += [c.post("/v1/match", json=body, headers=headers).status_code for c in (one, two)]
    assert codes == [200, 200, 200, 429]  # three a minute across both processes
