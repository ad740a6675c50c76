"""Shared fixtures: the external reference vectors and generated media."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

pytest_plugins = ["tests.backends"]

REPO = Path(__file__).resolve().parent.parent


def _scheduling_kept(when: str) -> Generator[None, object, None]:
    """Fail a test that leaves its thread on another scheduling policy (real-time), and
    put the thread back: every process the test worker started afterwards (Chromium,
    servers) would inherit it, and busy real-time processes starve a 2-core machine to a
    halt (SVT-AV1 encoding as root did: see ``reclaim.demo.media.scheduling_kept``)."""
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    yield
    after = os.sched_getscheduler(0), os.sched_getparam(0)
    if after != before:
        os.sched_setscheduler(0, *before)
        pytest.fail(
            f"the test's {when} left its thread on scheduling policy {after[0]} "
            f"(priority {after[1].sched_priority}); it was {before[0]}"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, None]:
    yield from _scheduling_kept("setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, None]:
    yield from _scheduling_kept("call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, None]:
    yield from _scheduling_kept("teardown")


def _reference_dir() -> Path | None:
    for candidate in (
        os.environ.get("RECLAIM_REFERENCE_DIR"),
        REPO.parent / "shared" / "reference",
        REPO.parent.parent / "shared" / "reference",
    ):
        if candidate and (Path(candidate) / "pdq" / "expected.csv").is_file():
            return Path(candidate)
    return None


REFERENCE = _reference_dir()


@pytest.fixture(scope="session")
def reference() -> Path:
    """The external reference vectors (../shared/reference, or $RECLAIM_REFERENCE_DIR)."""
    if REFERENCE is None:
        message = "reference vectors not found: set RECLAIM_REFERENCE_DIR"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI has them beside the clone; never pass by skipping
        pytest.skip(message)
    return REFERENCE


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide folder for generated media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture
def database(tmp_path: Path):
    """A migrated database: SQLite in a temporary folder (PostgreSQL under
    ``--database=postgresql``)."""
    from reclaim.config import Settings
    from reclaim.store import open_database

    db = open_database(Settings(data_dir=tmp_path / "data"))
    yield db
    db.dispose()
