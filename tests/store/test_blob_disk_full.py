"""The blob store on a full disk: a clear error, nothing half-written left behind, the
transaction rolled back, everything stored before still intact, and storing works again
once space is freed. The disk is a real 512 KiB tmpfs mounted for the test (root only)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reclaim.cases import service as cases
from reclaim.store.blobs import Blob, BlobStore, StoreFull
from reclaim.store.envelope import MasterKey


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        message = "mounting a small tmpfs needs root"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI runs as root: never pass by skipping there
        pytest.skip(message)
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_clear_error_and_loses_nothing(
    database, small_disk: Path, tmp_path: Path
) -> None:
    store = BlobStore(small_disk / "blobs", MasterKey.create(tmp_path / "master.key"))
    with database.session() as session:
        org = cases.get_org(session)
        org_id, case_id = org.id, cases.open_case(session, org=org, actor="test").id
    filler = small_disk / "filler"
    filler.write_bytes(bytes(160 * 1024))  # someone else's file on the same disk
    kept: list[tuple[str, bytes]] = []
    with pytest.raises(StoreFull, match="full: nothing was stored"):  # noqa: PT012
        for _ in range(100):
            data = os.urandom(96 * 1024)
            with database.session() as session:
                blob = store.put(session, org_id=org_id, case_id=case_id, kind="t", data=data)
                kept.append((blob.id, data))
    assert 1 <= len(kept) < 10
    assert not list(small_disk.rglob("*.partial"))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Blob)) == len(kept)
        for blob_id, data in kept:
            blob = session.get(Blob, blob_id)
            assert blob is not None
            assert store.read(session, blob) == data
    filler.unlink()  # space freed: storing works again
    with database.session() as session:
        blob = store.put(session, org_id=org_id, case_id=case_id, kind="t", data=b"x" * 99_000)
        assert store.read(session, blob) == b"x" * 99_000
