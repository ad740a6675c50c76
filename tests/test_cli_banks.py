"""Bank round trip through the CLI: create, add, match, withdraw, import, export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from reclaim.demo.media import render_scene
from tests.cli import Ran, runner


@pytest.fixture
def reclaim(tmp_path: Path) -> Callable[..., Ran]:
    return runner(tmp_path / "data")


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, seed in [("hers", 1), ("stranger", 2), ("logo", 3)]:
        out[name] = tmp_path / f"{name}.jpg"
        Image.fromarray(render_scene(400, 300, seed=seed)).save(out[name], quality=90)
    copy = tmp_path / "reupload.jpg"
    Image.open(out["hers"]).resize((300, 225)).save(copy, quality=60)  # re-encoded, resized
    out["reupload"] = copy
    captioned = Image.open(out["hers"])
    ImageDraw.Draw(captioned).rectangle((0, 0, 400, 40), fill=(0, 0, 0))
    captioned.save(tmp_path / "captioned.jpg", quality=70)  # a caption bar over the top
    out["captioned"] = tmp_path / "captioned.jpg"
    return out


def _matches(done: Ran) -> dict[str, list[dict]]:
    assert done.returncode == 0, done.stderr
    return {Path(j["path"]).name: j["matches"] for j in map(json.loads, done.stdout.splitlines())}


def test_bank_round_trip(reclaim, photos: dict[str, Path]) -> None:
    assert reclaim("bank", "create", "survivors").returncode == 0
    added = reclaim("bank", "add", "--json", "survivors", str(photos["hers"]))
    assert added.returncode == 0, added.stderr
    item_id = json.loads(added.stdout)["item_id"]
    found = _matches(reclaim("match", "--json", str(photos["reupload"]), str(photos["stranger"])))
    assert {m["item_id"] for m in found["reupload.jpg"]} == {item_id}
    pdq = next(m for m in found["reupload.jpg"] if m["signal"] == "pdq")
    assert pdq["item"] == str(photos["hers"])  # the label is the path as given
    assert 0 < pdq["distance"] <= 31
    assert found["stranger.jpg"] == []
    (captioned,) = _matches(reclaim("match", "--json", str(photos["captioned"])))["captioned.jpg"]
    assert captioned["item_id"] == item_id
    assert captioned["regions_matched"] >= 3
    assert captioned["regions_compared"] == 9
    assert reclaim("bank", "withdraw", "survivors", item_id).returncode == 0
    assert _matches(reclaim("match", "--json", str(photos["reupload"])))["reupload.jpg"] == []
    listing = reclaim("bank", "list", "--json")
    assert json.loads(listing.stdout)["items"] == 0


def test_negative_bank_through_the_cli(reclaim, photos: dict[str, Path]) -> None:
    reclaim("bank", "create", "survivors")
    reclaim("bank", "create", "benign", "--negative")
    reclaim("bank", "add", "survivors", str(photos["logo"]))
    reclaim("bank", "add", "benign", str(photos["logo"]))
    found = _matches(reclaim("match", "--json", str(photos["logo"])))["logo.jpg"]
    assert {m["bank"] for m in found if m["signal"] == "pdq"} == {"benign"}
    only = _matches(reclaim("match", "--json", "--bank", "survivors", str(photos["logo"])))
    assert {m["bank"] for m in only["logo.jpg"]} == {"survivors"}


def test_usage_and_input_errors(reclaim, tmp_path: Path, photos: dict[str, Path]) -> None:
    assert reclaim("bank", "create", "../etc").returncode == 2
    assert reclaim("bank", "create", "x'; DROP TABLE banks;--").returncode == 2
    assert reclaim("match", "--bank", "nope", str(photos["hers"])).returncode == 2
    reclaim("bank", "create", "b")
    broken = tmp_path / "list.txt"
    broken.write_text("pdq " + "0" * 64 + "\npdq 123\n")
    done = reclaim("bank", "import", "b", str(broken))
    assert done.returncode == 1
    assert "line 2" in done.stderr
    assert json.loads(reclaim("bank", "list", "--json").stdout)["items"] == 0  # nothing stored
    good = tmp_path / "list.csv"
    good.write_text("signal_type,signal_value\npdq," + "ab" * 32 + "\n")
    assert reclaim("bank", "import", "b", str(good)).returncode == 0
    exported = reclaim("bank", "export", "b", "--format", "pytx").stdout
    assert exported == "pdq " + "ab" * 32 + "\n"
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    done = reclaim("match", "--json", str(bad), str(photos["hers"]))
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["error"]["kind"] == "unsupported_type"
    assert lines[1]["matches"] == []


def test_keys_disputes_and_serve_on_loopback(reclaim, tmp_path: Path, photos) -> None:
    import socket
    import time

    import httpx

    assert reclaim("db", "upgrade").stdout.startswith("database at revision")
    assert reclaim("org", "create", "centre-b").stdout.strip() == "centre-b"
    reclaim("bank", "create", "survivors")
    reclaim("bank", "create", "benign", "--negative")
    listing = tmp_path / "list.txt"
    listing.write_text("pdq " + "5a" * 32 + "\n")
    reclaim("bank", "import", "survivors", str(listing))
    item_id = json.loads(reclaim("bank", "export", "survivors").stdout)["id"]
    created = reclaim("apikey", "create", "--bank", "survivors", "--name", "Platform X")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("rk_")
    key_id = token.split("_")[1]
    assert "keeps only its hash" in created.stderr
    assert reclaim("apikey", "create", "--bank", "nope").returncode == 2

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RECLAIM_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
        [sys.executable, "-m", "reclaim.cli", "serve", "--port", str(port)], env=env
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    body = {"signals": [{"type": "pdq", "value": "5a" * 32}]}
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        matches = httpx.post(f"{url}/v1/match", json=body, headers=headers).json()
        assert matches["results"][0]["matches"] == []  # imported items are private
        assert reclaim("bank", "verify", "survivors", item_id).returncode == 0
        matches = httpx.post(f"{url}/v1/match", json=body, headers=headers).json()
        assert [m["item_id"] for m in matches["results"][0]["matches"]] == [item_id]
        dispute = httpx.post(
            f"{url}/v1/disputes", headers=headers, json={"item_id": item_id, "reason": "our logo"}
        ).json()
        queue = reclaim("dispute", "list").stdout
        assert dispute["dispute_id"] in queue
        assert "our logo" in queue
        resolved = reclaim(
            "dispute", "resolve", dispute["dispute_id"], "--uphold", "--move-to", "benign"
        )
        assert resolved.returncode == 0, resolved.stderr
        matches = httpx.post(f"{url}/v1/match", json=body, headers=headers).json()
        assert matches["results"][0]["matches"] == []
        assert reclaim("apikey", "revoke", key_id).returncode == 0
        assert httpx.post(f"{url}/v1/match", json=body, headers=headers).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
