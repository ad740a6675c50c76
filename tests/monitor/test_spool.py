"""The media spool: sealed copies that only their work's key opens, checked when read,
never half-written, and a clear error on a full disk."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from reclaim.monitor.spool import Spool, SpoolError, SpoolFull
from reclaim.store.sealed import CHUNK
from tests.store.test_blob_disk_full import small_disk

__all__ = ["small_disk"]


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 7])
def test_a_spooled_file_reads_back_as_it_was(tmp_path: Path, size: int) -> None:
    spool = Spool(tmp_path / "spool")
    original = tmp_path / "media"
    data = os.urandom(size)
    original.write_bytes(data)
    spooled = spool.put(original)
    assert spooled.size == size
    with spool.opened(spooled, tmp_path / "scratch") as path:
        assert path.read_bytes() == data
        assert path.stat().st_mode & 0o077 == 0
    assert not path.exists()  # the plaintext copy is removed afterwards
    assert spool.read_bytes(spooled) == data
    sealed = (spool.root / spooled.name).read_bytes()
    if size >= 16:  # (a byte or two of random data may well occur in any file)
        assert data[:64] not in sealed  # sealed, not stored in the clear


def test_a_copy_altered_cut_swapped_or_opened_with_another_key_is_refused(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool")
    one = spool.put_bytes(os.urandom(CHUNK + 100))
    two = spool.put_bytes(b"another")
    path = spool.root / one.name
    raw = path.read_bytes()
    wrong_key = dataclasses.replace(one, key=two.key)
    with pytest.raises(SpoolError, match="altered"):
        spool.read_bytes(wrong_key)
    path.write_bytes(raw[: len(raw) - 50])
    with pytest.raises(SpoolError, match="altered or cut short"):
        spool.read_bytes(one)
    path.write_bytes((spool.root / two.name).read_bytes())  # another entry under its name
    with pytest.raises(SpoolError):
        spool.read_bytes(one)
    path.unlink()
    with pytest.raises(SpoolError, match="gone"), spool.opened(one, tmp_path / "scratch"):
        pass
    for name in ("../../etc/passwd", "A" * 32, ""):
        with pytest.raises(SpoolError, match="not a spooled file"):
            spool.read_bytes(dataclasses.replace(one, name=name))


def test_a_full_disk_is_a_clear_error_and_leaves_nothing_behind(
    small_disk: Path, tmp_path: Path
) -> None:
    spool = Spool(small_disk / "spool")
    kept = spool.put_bytes(b"x" * 1000)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(1024 * 1024))
    with pytest.raises(SpoolFull, match="full: nothing was spooled"):
        spool.put(big)
    assert [p.name for p in spool.root.iterdir()] == [kept.name]
    assert spool.read_bytes(kept) == b"x" * 1000
