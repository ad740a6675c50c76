"""ExactIndex: digests to ids, with replacement, removal and persistence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reclaim.index import ExactIndex, IndexCorrupt, InvalidCodes, NotAnIndex


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_add_lookup_replace_remove() -> None:
    index = ExactIndex("sha256")
    index.add([sha("a"), sha("a"), sha("b").upper()], [1, 2, 3])
    assert index.lookup(sha("a")).tolist() == [1, 2]
    assert index.lookup(sha("b")).tolist() == [3]  # upper-case hex is the same digest
    assert index.lookup(sha("zzz")).tolist() == []
    index.add([sha("b")], [1])  # id 1 now holds another digest
    assert index.lookup(sha("a")).tolist() == [2]
    assert index.lookup(sha("b")).tolist() == [1, 3]
    assert index.remove([2, 99]) == 1
    assert index.lookup(sha("a")).tolist() == []
    assert len(index) == 2
    assert 1 in index
    assert 2 not in index


def test_md5_and_bad_digests() -> None:
    index = ExactIndex("md5")
    digest = hashlib.md5(b"x").hexdigest()
    index.add([digest], [7])
    assert index.lookup(digest).tolist() == [7]
    for bad in [sha("a"), "xyz", digest[:-1] + "g", ""]:
        with pytest.raises(InvalidCodes):
            index.lookup(bad)
    with pytest.raises(InvalidCodes):
        index.add([digest, digest], [1])
    with pytest.raises(InvalidCodes):
        ExactIndex("sha1")


def test_save_and_load(tmp_path: Path) -> None:
    index = ExactIndex("sha256")
    index.add([sha(str(i % 50)) for i in range(200)], range(200))
    index.save(tmp_path / "exact")
    loaded = ExactIndex.load(tmp_path / "exact", verify=True)
    assert loaded.algorithm == "sha256"
    assert len(loaded) == 200
    for i in range(50):
        assert loaded.lookup(sha(str(i))).tolist() == index.lookup(sha(str(i))).tolist()
    ExactIndex("md5").save(tmp_path / "exact")  # replaces it
    assert ExactIndex.load(tmp_path / "exact").algorithm == "md5"


def test_damaged_directories(tmp_path: Path) -> None:
    with pytest.raises(NotAnIndex):
        ExactIndex.load(tmp_path)
    index = ExactIndex()
    index.add([sha("a")], [1])
    index.save(tmp_path / "exact")
    manifest_path = tmp_path / "exact" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["meta"]["rows"] = 2
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt):
        ExactIndex.load(tmp_path / "exact")
    manifest["meta"] = {"algorithm": "crc32", "rows": 1}
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorrupt):
        ExactIndex.load(tmp_path / "exact")
