"""The isolated pool: crashes, hangs and memory hogs cost one item, never the batch."""

from __future__ import annotations

import pytest

from reclaim.media import MediaError
from reclaim.media.sandbox import IsolatedPool, WorkerStartFailed
from tests.media.sandbox_cannot_start import echo as dies
from tests.media.sandbox_slow_start import echo
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


def test_a_slow_start_is_not_charged_to_the_first_file() -> None:
    # the workers take 3 s to import their task; each file has 1 s
    with IsolatedPool(echo, workers=2, memory_bytes=512 << 20, timeout_seconds=1) as pool:
        assert list(pool.map(["a", "b", "c"])) == ["A", "B", "C"]
        # a replacement worker (after a timeout) starts just as slowly, and is waited for too
        with IsolatedPool(behave, workers=1, memory_bytes=512 << 20, timeout_seconds=1) as hanging:
            assert [getattr(r, "kind", r) for r in hanging.map(["hang", "x"])] == [
                "timeout",
                "X",
            ]


def test_workers_that_never_start_fail_the_pool_not_the_files() -> None:
    with (
        IsolatedPool(
            echo, workers=1, memory_bytes=512 << 20, timeout_seconds=5, startup_seconds=0.5
        ) as pool,
        pytest.raises(WorkerStartFailed, match=r"did not start within 0\.5 s"),
    ):
        list(pool.map(["a"]))
    with IsolatedPool(dies, workers=2, memory_bytes=512 << 20, timeout_seconds=5) as pool:
        for _ in range(2):  # a pool that gave up tries anew at its next call
            with pytest.raises(WorkerStartFailed, match="3 decoder workers in a row"):
                list(pool.map(["a", "b"]))
