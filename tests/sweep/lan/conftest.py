"""The fake room network, built once per test session and torn down after it (also when a
test fails). Without root or ``ip netns`` the namespace tests are skipped with the reason;
in CI (``CI`` set, running as root) they must run, so there they fail instead."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.sweep.lan.netns import Room, remove_stale, unavailable


@pytest.fixture(scope="session")
def room() -> Iterator[Room]:
    reason = unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the LAN sweep tests must run in CI: {reason}")
        pytest.skip(reason)
    remove_stale()
    built = Room()
    try:
        built.build()
        built.start_fakes()
        yield built
    finally:
        built.close()
