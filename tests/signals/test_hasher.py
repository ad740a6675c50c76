"""The service hasher and the batch hasher: a crashed decoding worker gets the file once
more, in a new worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reclaim.config import Settings
from reclaim.media.errors import Corrupt, WorkerCrashed
from reclaim.signals.batch import hash_many
from reclaim.signals.filehash import FileFailure, FileHashes, HashRequest
from reclaim.signals.hasher import FileHasher
from tests.signals.hasher_tasks import always_crashes, crashes_first


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    pixels = (rng.random((48, 64, 3)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    path = tmp_path / "picture.png"
    Image.fromarray(pixels).save(path)
    return path


def _attempts(path: Path) -> int:
    return int(Path(f"{path}.attempts").read_text())


def test_a_crash_from_outside_the_file_costs_nothing(settings: Settings, picture: Path) -> None:
    plain = FileHasher(settings)
    crashing = FileHasher(settings, task=crashes_first)
    try:
        expected = plain.hash(str(picture))
        result = crashing.hash(str(picture))
    finally:
        plain.close()
        crashing.close()
    assert isinstance(expected, FileHashes)
    assert isinstance(result, FileHashes)
    assert _attempts(picture) == 2
    assert [s.to_json() for s in result.signals] == [s.to_json() for s in expected.signals]


def test_a_file_that_always_crashes_is_reported_after_two_workers(
    settings: Settings, picture: Path
) -> None:
    hasher = FileHasher(settings, task=always_crashes)
    try:
        result = hasher.hash(str(picture))
        assert isinstance(result, WorkerCrashed)
        assert "SIGSEGV" in str(result)
        assert _attempts(picture) == 2
        # the hasher goes on with new workers for the next file
        other = picture.with_name("other.png")
        other.write_bytes(picture.read_bytes())
        assert isinstance(hasher.hash(str(other)), WorkerCrashed)
        assert _attempts(other) == 2
    finally:
        hasher.close()


def test_other_failures_are_not_tried_again(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    hasher = FileHasher(settings)
    try:
        assert isinstance(hasher.hash(str(broken)), Corrupt)
    finally:
        hasher.close()


def test_a_batch_tries_a_crashed_file_once_more(picture: Path) -> None:
    others = [picture.with_name(f"copy-{n}.png") for n in range(3)]
    for other in others:
        other.write_bytes(picture.read_bytes())
    requests = [HashRequest(str(p)) for p in [picture, *others]]
    once = list(hash_many(requests, workers=2, task=crashes_first))
    assert all(isinstance(r, FileHashes) for r in once)
    assert [r.path for r in once] == [str(p) for p in [picture, *others]]
    assert [_attempts(p) for p in [picture, *others]] == [2, 2, 2, 2]
    for p in [picture, *others]:
        Path(f"{p}.attempts").unlink()
    always = list(hash_many(requests, workers=2, task=always_crashes))
    assert all(isinstance(r, FileFailure) and isinstance(r.error, WorkerCrashed) for r in always)
    assert [_attempts(p) for p in [picture, *others]] == [2, 2, 2, 2]
