"""Saving and loading: round trips, atomic replacement, typed errors for damaged directories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reclaim.index import IndexCorrupt, MihParams, NotAnIndex, PdqIndex
from reclaim.index import files as index_files

from .conftest import Planted, assert_same

RADII = (0, 31, 40)


@pytest.fixture(scope="module")
def index(planted: Planted) -> PdqIndex:
    """An index with all three parts in use: tables, tombstones and a delta."""
    half = len(planted.ids) // 2
    index = PdqIndex.build(planted.codes[:half], planted.ids[:half])
    index.add(planted.codes[half:], planted.ids[half:])
    index.remove(planted.ids[::97])
    return index


def same_answers(a: PdqIndex, b: PdqIndex, queries: np.ndarray) -> None:
    assert len(a) == len(b)
    for query in queries:
        for radius in RADII:
            assert_same(a.search(query, radius), b.search(query, radius))


@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip(index: PdqIndex, planted: Planted, tmp_path: Path, mmap: bool) -> None:
    index.save(tmp_path / "pdq")
    loaded = PdqIndex.load(tmp_path / "pdq", mmap=mmap, verify=True)
    same_answers(index, loaded, planted.queries)
    assert loaded.snapshot.main.params == index.snapshot.main.params
    # A loaded index takes updates and compacts like a built one.
    loaded.add(planted.codes[:5], np.arange(5, dtype=np.int64) - 10**15)
    loaded.remove(planted.ids[:5])
    index_copy = PdqIndex.load(tmp_path / "pdq")
    index_copy.add(planted.codes[:5], np.arange(5, dtype=np.int64) - 10**15)
    index_copy.remove(planted.ids[:5])
    loaded.compact()
    same_answers(index_copy, loaded, planted.queries[:4])


def test_fixed_params_are_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    params = MihParams(tables=9, bits=14, block_bits=2)
    index = PdqIndex.build(
        rng.integers(0, 256, (3000, 32), dtype=np.uint8), np.arange(3000), params
    )
    index.save(tmp_path / "fixed")
    loaded = PdqIndex.load(tmp_path / "fixed")
    assert loaded.params == params
    assert loaded.snapshot.main.params == params


def test_saving_again_replaces_the_old_version(index: PdqIndex, tmp_path: Path) -> None:
    target = tmp_path / "pdq"
    PdqIndex().save(target)
    assert len(PdqIndex.load(target)) == 0
    index.save(target)
    assert len(PdqIndex.load(target)) == len(index)
    assert next(p.name for p in target.iterdir() if p.name != "manifest.json").startswith("data-")
    assert len(list(target.iterdir())) == 2


def test_a_crash_while_saving_keeps_the_previous_version(
    index: PdqIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "pdq"
    small = PdqIndex()
    small.add(np.zeros((3, 32), np.uint8), np.array([1, 2, 3]))
    small.save(target)
    calls = []
    real_write = index_files._write_array

    def failing_write(directory, name, array):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_write(directory, name, array)

    monkeypatch.setattr(index_files, "_write_array", failing_write)
    with pytest.raises(OSError, match="disk full"):
        index.save(target)
    monkeypatch.undo()
    assert len(PdqIndex.load(target, verify=True)) == 3
    assert len(list(target.iterdir())) == 2  # the half-written version was cleared away


def corrupt_file(directory: Path, name: str, offset: int, data: bytes) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    path = directory / manifest["data"] / f"{name}.npy"
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


@pytest.fixture
def saved(index: PdqIndex, tmp_path: Path) -> Path:
    index.save(tmp_path / "pdq")
    return tmp_path / "pdq"


def test_debris_of_a_crashed_first_save_is_cleared(tmp_path: Path) -> None:
    target = tmp_path / "pdq"
    (target / ".staging-data-18f0c0ffee-0123abcd").mkdir(parents=True)
    (target / "data-18f0c0ffee-89abcdef").mkdir()
    (target / ".manifest-0badf00d.json").write_text("{")
    PdqIndex().save(target)
    assert len(PdqIndex.load(target)) == 0
    assert len(list(target.iterdir())) == 2


def test_missing_or_foreign_directories(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(NotAnIndex):
        PdqIndex.load(tmp_path / "nothing-here")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    with pytest.raises(NotAnIndex):
        PdqIndex.load(tmp_path / "other")
    with pytest.raises(NotAnIndex):
        PdqIndex().save(tmp_path / "other")  # never writes into a foreign directory
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["format"] = "reclaim.exact-index"
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NotAnIndex):
        PdqIndex.load(saved)


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: "{ not json",
        lambda m: json.dumps([1, 2]),
        lambda m: json.dumps({**m, "version": 99}),
        lambda m: json.dumps({**m, "data": "../../etc"}),
        lambda m: json.dumps({**m, "files": {}}),
        lambda m: json.dumps({**m, "meta": {**m["meta"], "main_params": {"tables": 99}}}),
        lambda m: json.dumps(
            {**m, "meta": {**m["meta"], "main_params": {**m["meta"]["main_params"], "bits": 30}}}
        ),
        lambda m: json.dumps({**m, "meta": {**m["meta"], "live": 5}}),
    ],
)
def test_a_damaged_manifest_is_a_typed_error(saved: Path, damage) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    (saved / "manifest.json").write_text(damage(manifest))
    with pytest.raises(IndexCorrupt):
        PdqIndex.load(saved)


def test_damaged_files_are_typed_errors(saved: Path) -> None:
    manifest = json.loads((saved / "manifest.json").read_text())
    data = saved / manifest["data"]
    ids_file = data / "main_ids.npy"
    original = ids_file.read_bytes()
    ids_file.write_bytes(original[:-8])  # truncated
    with pytest.raises(IndexCorrupt, match="bytes"):
        PdqIndex.load(saved)
    ids_file.write_bytes(b"\x00" * len(original))  # same size, no array header
    with pytest.raises(IndexCorrupt, match="not a readable array"):
        PdqIndex.load(saved)
    ids_file.write_bytes(original[:200] + original[:128] + original[328:])  # ids out of order
    with pytest.raises(IndexCorrupt):
        PdqIndex.load(saved)
    ids_file.unlink()
    with pytest.raises(IndexCorrupt, match="missing"):
        PdqIndex.load(saved)


def test_bit_rot_is_caught_by_verify_and_never_crashes_a_search(
    saved: Path, planted: Planted
) -> None:
    # Postings pointing far outside the codes: found by the checksum, or by the bounds checks.
    corrupt_file(saved, "main_postings", 4096, b"\xff" * 4096)
    with pytest.raises(IndexCorrupt, match="SHA-256"):
        PdqIndex.load(saved, verify=True)
    loaded = PdqIndex.load(saved)
    with pytest.raises(IndexCorrupt):
        loaded.search_batch(planted.codes[:3000], 31)


def test_bad_table_offsets_never_crash_a_search(saved: Path, planted: Planted) -> None:
    corrupt_file(saved, "main_rel", 200, b"\xfe" * 65536)
    loaded = PdqIndex.load(saved)
    with pytest.raises(IndexCorrupt):
        loaded.search_batch(planted.codes[:3000], 31)
