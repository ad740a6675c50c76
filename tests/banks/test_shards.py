"""Banks split by hash prefix over matcher shards: every signal is held by exactly one
shard, the merged answers of all shards are the unsplit matcher's (negative banks
included, and crops and turned copies placed by the caller in the query's pixels), and
over HTTP an API process asks real shard processes, refuses strangers' calls, and fails a
lookup -- never answers it in part -- when a shard is down."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from reclaim.banks import platforms
from reclaim.banks import service as banks
from reclaim.banks.anchored_lookup import AnchoredCandidate, AnchoredQuery
from reclaim.banks.match import merge
from reclaim.banks.matcher import BankMatcher
from reclaim.banks.models import Bank
from reclaim.banks.replica import worker_matchers
from reclaim.banks.shard_client import ShardedMatchers
from reclaim.banks.shards import Shard, merge_answers
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import render_scene
from reclaim.matching import query_signal
from reclaim.matching.views import QueryViews
from reclaim.signals import HashOptions, HashRequest, PdqSignal, VpdqFrame, VpdqSignal, hash_file
from reclaim.signals.base import Signal
from reclaim.signals.registry import signal_from_json
from reclaim.web.app import Role, create_app

RNG = np.random.default_rng(8)


def _hex() -> str:
    return RNG.bytes(32).hex()


def _flipped(value: str, bits: int) -> str:
    number = int(value, 16)
    for position in RNG.choice(256, size=bits, replace=False):
        number ^= 1 << int(position)
    return f"{number:064x}"


def _top(value: str) -> str:
    """``value`` with its first bit and two others flipped."""
    return _flipped(f"{int(value, 16) ^ (1 << 255):064x}", 2)


@pytest.fixture
def banked(database, tmp_path: Path) -> tuple[list[list[Signal]], list]:
    """Verified items of every kind in a normal and a negative bank, and queries."""
    pictures = []
    for seed in range(3):
        path = tmp_path / f"p{seed}.png"
        Image.fromarray(render_scene(400, 300, seed=seed)).save(path)
        pictures.append(list(hash_file(HashRequest(str(path), HashOptions())).signals))
    plain = [_hex() for _ in range(400)]
    video = VpdqSignal(tuple(VpdqFrame(float(i), 100, _hex()) for i in range(12)))
    with database.session() as session:
        org = cases.get_org(session)
        main = banks.create_bank(session, org=org, name="main")
        benign = banks.create_bank(session, org=org, name="benign", negative=True)
        items = [banks.NewItem(s, f"picture {i}", "portal") for i, s in enumerate(pictures)]
        items += [banks.NewItem([PdqSignal(v, 100)], f"hash {i}", "t") for i, v in enumerate(plain)]
        items.append(banks.NewItem([video], "video", "portal"))
        banks.add_items(session, bank=main, actor="t", verified=True, items=items)
        # Benign look-alikes whose first bit differs: always in another shard than theirs.
        stock = [banks.NewItem([PdqSignal(_top(v), 100)], "stock", "t") for v in plain[:40]]
        banks.add_items(session, bank=benign, actor="t", verified=True, items=stock)
        bank_list = [main, benign]
        session.expunge_all()
    queries = list(pictures)
    queries += [[PdqSignal(_flipped(v, int(RNG.integers(0, 36))), 100)] for v in plain[:120]]
    queries += [[video], [PdqSignal(_hex(), 100)]]
    return queries, bank_list


def _edited(seed: int) -> list[np.ndarray]:
    """Copies of banked picture ``seed`` that only the anchored search finds: two crops,
    one of them mirrored, and a crop turned by 8 degrees."""
    rgb = render_scene(400, 300, seed=seed)
    crop = np.ascontiguousarray(rgb[12:282, 0:360])
    other = np.ascontiguousarray(rgb[30:270, 40:360])
    turned = np.asarray(Image.fromarray(crop).rotate(8, resample=Image.Resampling.BICUBIC))
    return [crop, np.ascontiguousarray(other[:, ::-1]), turned]


def _over_the_wire(data: object) -> Any:
    return json.loads(json.dumps(data))


def test_a_shard_is_written_k_of_n() -> None:
    assert Shard.parse(" 2/4 ") == Shard(2, 4)
    for bad in ("4/4", "1/0", "-1/3", "a/b", "1/300", "", "1/2/3"):
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(bad)
    with pytest.raises(ValueError, match="matcher_shard"):
        Settings(matcher_shard="3/2")


def _split(database, bank_list: list) -> tuple[list, BankMatcher, list[BankMatcher]]:
    """The banks' signal rows, one matcher holding them all, and three shards of them."""
    with database.session() as session:
        rows = list(banks.signal_rows(session, banks=bank_list, shared_only=True))
    whole = BankMatcher(bank_list)
    whole.add(rows)
    parts = [BankMatcher(bank_list, Shard(k, 3)) for k in range(3)]
    for part in parts:
        part.add(rows)
    return rows, whole, parts


def test_merged_shards_answer_as_one_matcher(database, banked) -> None:
    queries, bank_list = banked
    rows, whole, parts = _split(database, bank_list)
    held = [sum(p.shard.holds(row) for p in parts if p.shard) for row in rows]  # type: ignore[misc]
    assert set(held) == {1}  # each signal in exactly one shard
    assert all(len(p) < len(whole) for p in parts)  # and none holds everything
    found = 0
    for query in queries:
        for one in query:
            expected = whole.match([one])
            assert merge(p.match_unmerged(one) for p in parts) == expected
            found += len(expected)
    assert found > 100

    def shard_of(item_id: str) -> int:
        return next(k for k, part in enumerate(parts) if part.item_ids([item_id]))

    crossed = 0  # a negative match in one shard hid a normal match found by another
    for (one,) in queries[3:43]:
        raw = [m for part in parts for m in part.match_unmerged(one)]
        normal = {shard_of(m.item_id) for m in raw if not m.negative}
        negative = {shard_of(m.item_id) for m in raw if m.negative}
        hidden = normal and negative and all(m.negative for m in whole.match([one]))
        crossed += bool(hidden and normal - negative)
    assert crossed


def test_crops_placed_by_the_caller_answer_as_one_matcher(database, banked) -> None:
    _, whole, parts = _split(database, banked[1])
    anchored = 0
    for seed in range(3):
        for rgb in _edited(seed):
            signal = query_signal(rgb)
            expected = whole.match([signal])
            assert isinstance(signal.views, QueryViews)
            query = signal.views.anchoring
            sent = AnchoredQuery.of(query)
            received = AnchoredQuery.from_json(_over_the_wire(sent.to_json()))
            plain = signal_from_json(signal.to_json())  # what a shard gets: no pixels
            answers = []
            for part in parts:
                matches, candidates = part.match_for_shard(plain, received)
                back = [
                    AnchoredCandidate.from_json(_over_the_wire(c.to_json()), len(sent.codes))
                    for c in candidates
                ]
                answers.append((matches, back))
            assert merge_answers(answers, (query, sent)) == expected
            found = [m for m in expected if m.extra.get("region") == "anchored"]
            assert [m.item for m in found] == [f"picture {seed}"]
            anchored += 1
            # the hashes alone (what shards answered before) do not find these copies
            assert not merge_answers([(m, []) for m, _ in answers])
    assert anchored == 9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def shard_processes(database, tmp_path: Path) -> Iterator[list[tuple[str, subprocess.Popen]]]:
    url = database.engine.url.render_as_string(hide_password=False)
    out = []
    for k in range(2):
        port = _free_port()
        env = {
            **os.environ,
            "RECLAIM_DATABASE_URL": url,
            "RECLAIM_DATA_DIR": str(tmp_path / f"shard-{k}"),
            "RECLAIM_MATCHER_SHARD": f"{k}/2",
            "RECLAIM_MATCHER_SECRET": "s3cret-for-tests",
            "RECLAIM_MATCHER_SCOPE": "both",  # platforms' lookups and workers'
        }
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "reclaim.cli", "serve", "--role", "matcher"),
                *("--no-worker", "--port", str(port)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        out.append((f"http://127.0.0.1:{port}", process))
    try:
        for base, process in out:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, process.communicate()[1][-3000:]
                try:
                    if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "a shard never became ready"
                time.sleep(0.1)
        yield out
    finally:
        for _, process in out:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)


def test_an_api_process_asks_every_shard_and_fails_without_one(
    database, banked, shard_processes, tmp_path: Path
) -> None:
    queries, bank_list = banked
    with database.session() as session:
        org = cases.get_org(session)
        key = platforms.create_key(session, org=org, name="p", banks_=bank_list[:1])[1]
    url = database.engine.url.render_as_string(hide_password=False)
    body = {"signals": [s.to_json() for q in queries[3:100] for s in q]}
    headers = {"Authorization": f"Bearer {key}"}
    copies = []
    for seed in range(3):
        for number, rgb in enumerate(_edited(seed)):
            copies.append(tmp_path / f"copy-{seed}-{number}.jpg")
            Image.fromarray(rgb).save(copies[-1], quality=90)

    def files(client: TestClient) -> list[Any]:
        return [
            client.post("/v1/match/file", content=path.read_bytes(), headers=headers).json()
            for path in copies
        ]

    alone = Settings(data_dir=tmp_path / "alone", database_url=url)
    with TestClient(create_app(alone, frozenset({Role.API}))) as client:
        expected = client.post("/v1/match", json=body, headers=headers).json()
        expected_files = files(client)
    assert sum(len(r["matches"]) for r in expected["results"]) > 40
    placed = [m for r in expected_files for m in r["matches"] if m["region"] == "anchored"]
    assert len(placed) >= 8  # crops and turned copies, found through their pixels

    routed = Settings(
        data_dir=tmp_path / "api",
        database_url=url,
        matcher_shards=",".join(base for base, _ in shard_processes),
        matcher_secret="s3cret-for-tests",
    )
    with TestClient(create_app(routed, frozenset({Role.API}))) as client:
        assert client.post("/v1/match", json=body, headers=headers).json() == expected
        assert files(client) == expected_files
        (base, _), (down_base, down) = shard_processes
        stranger = httpx.post(
            f"{base}/internal/match",
            json={"org_id": 1, "shared_only": True, "signals": []},
            headers={"X-Reclaim-Matcher-Secret": "guess"},
        )
        assert stranger.status_code == 403
        malformed = httpx.post(
            f"{base}/internal/match",
            json={
                "org_id": 1,
                "shared_only": True,
                "signals": [{"type": "pdq", "value": "0" * 64}],
                "anchored": [{"codes": "AAAA", "frames": "AA=="}],
            },
            headers={"X-Reclaim-Matcher-Secret": "s3cret-for-tests"},
        )
        assert malformed.status_code == 422
        assert "32 bytes of code" in malformed.text
        down.send_signal(signal.SIGKILL)
        down.wait(30)
        failed = client.post("/v1/match", json=body, headers=headers)
        assert failed.status_code == 503
        assert "matcher shard 1" in failed.json()["detail"]
        assert down_base in failed.json()["detail"]


def test_workers_match_every_item_through_the_shards(
    database, banked, shard_processes, tmp_path: Path
) -> None:
    """The monitor's lookups (all items, private ones too, crops placed by the worker)
    asked of the shards answer as the worker's own matchers do."""
    _, bank_list = banked
    path = tmp_path / "private.png"
    Image.fromarray(render_scene(400, 300, seed=3)).save(path)
    private = list(hash_file(HashRequest(str(path), HashOptions())).signals)
    with database.session() as session:
        main = session.get(Bank, bank_list[0].id)
        assert main is not None
        item = banks.NewItem(private, "private picture", "portal")
        banks.add_items(session, bank=main, actor="t", items=[item])  # not verified: private
    url = database.engine.url.render_as_string(hide_password=False)
    local = worker_matchers(Settings(data_dir=tmp_path / "local", database_url=url))
    sharded = worker_matchers(
        Settings(
            data_dir=tmp_path / "worker",
            database_url=url,
            matcher_shards=",".join(base for base, _ in shard_processes),
            matcher_secret="s3cret-for-tests",
        )
    )
    assert isinstance(sharded, ShardedMatchers)
    try:
        with database.session() as session:
            org = cases.get_org(session)
            for seed in (0, 3):
                for rgb in _edited(seed):
                    query = [query_signal(rgb)]
                    expected = local.match(session, org=org, shared_only=False, signals=query)
                    got = sharded.match(session, org=org, shared_only=False, signals=query)
                    assert got == expected
                    if seed == 3:
                        assert [(m.item, m.extra["region"]) for m in got] == [
                            ("private picture", "anchored")
                        ]
                        shared = sharded.match(session, org=org, shared_only=True, signals=query)
                        assert shared == []  # platforms never match a private item
    finally:
        sharded.close()


def test_api_processes_need_the_secret_to_route(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, matcher_shards="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="MATCHER_SECRET"), TestClient(create_app(settings)):
        pass
    with pytest.raises(ValueError, match="http"):
        Settings(matcher_shards="ftp://shard")


def test_concurrent_lookups_reach_a_shard_at_once() -> None:
    """Requests the API handles at the same time ask the shards at the same time (not one
    after another through a pool sized for one request)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from reclaim.banks.shard_client import ShardRouter

    lock = threading.Lock()
    state = {"now": 0, "most": 0}
    all_in = threading.Event()

    class Shard(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
                if state["now"] >= 4:
                    all_in.set()
            all_in.wait(10)  # hold every request until four are in (or give up)
            with lock:
                state["now"] -= 1
            answer = json.dumps({"results": [[] for _ in body["signals"]]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shard)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    router = ShardRouter([f"http://127.0.0.1:{server.server_address[1]}"], "s")
    try:
        lookups = [
            threading.Thread(
                target=router.match_each,
                kwargs={"org_id": 1, "shared_only": True, "signals": [PdqSignal(_hex(), 100)]},
            )
            for _ in range(4)
        ]
        for lookup in lookups:
            lookup.start()
        for lookup in lookups:
            lookup.join(30)
    finally:
        router.close()
        server.shutdown()
    assert state["most"] == 4
