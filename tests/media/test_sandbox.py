"""The isolated pool: crashes, hangs and memory hogs cost one item, never the batch."""

from __future__ import annotations

import pytest

from reclaim.media import MediaError
from reclaim.media.sandbox import IsolatedPool
from tests.media.sandbox_tasks import behave


def _run(items: list[str], workers: int = 2, timeout: float = 2.0) -> list[str]:
    with IsolatedPool(
        behave, workers=workers, memory_bytes=512 * 1024 * 1024, timeout_seconds=timeout
    ) as pool:
        return [f"{r.kind}" if isinstance(r, MediaError) else r for r in pool.map(items)]


def test_results_keep_input_order() -> None:
    items = [f"item{i}" for i in range(20)]
    assert _run(items, workers=3) == [i.upper() for i in items]


def test_each_failure_is_typed_and_the_rest_go_on() -> None:
    items = ["a", "crash", "b", "hang", "c", "hog", "d", "corrupt", "e", "bug", "f"]
    assert _run(items) == [
        "A",
        "worker_crashed",
        "B",
        "timeout",
        "C",
        "too_large",
        "D",
        "corrupt",
        "E",
        "worker_crashed",
        "F",
    ]


def test_crash_message_names_the_signal() -> None:
    with IsolatedPool(behave, workers=1, memory_bytes=512 << 20, timeout_seconds=5) as pool:
        (result,) = list(pool.map(["crash"]))
    assert isinstance(result, MediaError)
    assert "SIGSEGV" in str(result)
    assert str(result).startswith("crash:")


def test_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        IsolatedPool(behave, workers=0, memory_bytes=1 << 30, timeout_seconds=1)
