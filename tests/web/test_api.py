"""The platform API end to end: real app, real SQLite, in-process HTTP client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from reclaim.banks import platforms
from reclaim.banks import service as banks
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import render_scene
from reclaim.signals import PdqSignal, pdq_from_rgb
from reclaim.store import open_database
from reclaim.web.app import create_app

PICTURE = render_scene(320, 240, seed=4)
HERS = pdq_from_rgb(PICTURE).value
OTHER = "0f" * 32


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        api_max_batch=5,
        api_max_upload_bytes=2_000_000,
        api_rate_per_minute=1000,
        api_sync_page_max=3,
    )


@pytest.fixture
def world(settings: Settings) -> dict[str, str]:
    """Two banks, a key for each, a key for both, a revoked key; one verified item, one private."""
    db = open_database(settings)
    out = {}
    with db.session() as session:
        org = cases.get_org(session)
        main = banks.create_bank(session, org=org, name="main")
        other = banks.create_bank(session, org=org, name="other")
        (item,) = banks.add_items(
            session,
            bank=main,
            actor="t",
            verified=True,
            items=[banks.NewItem([PdqSignal(HERS, 100)], "secret label", "file")],
        )
        banks.add_items(
            session,
            bank=main,
            actor="t",
            verified=False,
            items=[banks.NewItem([PdqSignal(OTHER, 100)], "private", "portal")],
        )
        out["item"] = item.public_id
        out["main"] = platforms.create_key(session, org=org, name="p", banks_=[main])[1]
        out["other"] = platforms.create_key(session, org=org, name="q", banks_=[other])[1]
        revoked, token = platforms.create_key(session, org=org, name="r", banks_=[main])
        platforms.revoke_key(session, org=org, key_id=revoked.key_id)
        out["revoked"] = token
    db.dispose()
    return out


@pytest.fixture
def client(settings: Settings, world) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_match_hashes_and_scoping(client: TestClient, world) -> None:
    body = {"signals": [{"type": "pdq", "value": HERS}, {"type": "pdq", "value": OTHER}]}
    result = client.post("/v1/match", json=body, headers=auth(world["main"]))
    assert result.status_code == 200
    first, second = result.json()["results"]
    assert [(m["item_id"], m["distance"]) for m in first["matches"]] == [(world["item"], 0)]
    assert "item" not in first["matches"][0]  # labels are private
    assert second["matches"] == []  # the private (unverified) item is not shared
    scoped = client.post("/v1/match", json=body, headers=auth(world["other"]))
    assert all(r["matches"] == [] for r in scoped.json()["results"])


@pytest.mark.parametrize(
    ("signals", "status"),
    [
        ([], 422),
        ([{"type": "pdq", "value": "00"}], 422),
        ([{"type": "pdq", "value": "zz" * 32}], 422),
        ([{"type": "photodna", "value": "00"}], 422),
        ([{"value": HERS}], 422),
        ([{"type": "pdq", "value": HERS}] * 6, 413),
    ],
)
def test_bad_match_requests(client: TestClient, world, signals, status: int) -> None:
    result = client.post("/v1/match", json={"signals": signals}, headers=auth(world["main"]))
    assert result.status_code == status, result.text


@pytest.mark.parametrize("token", [None, "", "rk_nope_nope", "garbage", "revoked"])
def test_keys_are_required_and_checked(client: TestClient, world, token: str | None) -> None:
    headers = {} if token is None else auth(world.get(token, token))
    result = client.post(
        "/v1/match", json={"signals": [{"type": "pdq", "value": HERS}]}, headers=headers
    )
    assert result.status_code == 401


def test_match_file(client: TestClient, world) -> None:
    upload = io.BytesIO()
    Image.fromarray(PICTURE).resize((200, 150)).save(upload, "JPEG", quality=70)
    result = client.post("/v1/match/file", content=upload.getvalue(), headers=auth(world["main"]))
    assert result.status_code == 200, result.text
    assert [m["item_id"] for m in result.json()["matches"] if m["signal"] == "pdq"] == [
        world["item"]
    ]
    bad = client.post("/v1/match/file", content=b"<html>hi</html>", headers=auth(world["main"]))
    assert bad.status_code == 422
    assert bad.json()["detail"]["kind"] == "unsupported_type"
    assert "upload-" not in bad.text  # the temporary path is not revealed
    assert (
        client.post("/v1/match/file", content=b"", headers=auth(world["main"])).status_code == 422
    )


def test_oversized_upload_is_refused_while_streaming(client: TestClient, world, settings) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(100):  # 6.4 MB against a 2 MB limit, without a Content-Length
            yield b"\xff\xd8\xff" + b"\x00" * 65533

    result = client.post("/v1/match/file", content=body(), headers=auth(world["main"]))
    assert result.status_code == 413
    assert list((settings.data_dir / "tmp").iterdir()) == []  # nothing left behind


def test_delta_sync_replays_adds_and_withdrawals_in_order(
    client: TestClient, world, settings
) -> None:
    db = open_database(settings)
    with db.session() as session:
        org = cases.get_org(session)
        main = banks.get_bank(session, org=org, name="main")
        added = banks.add_items(
            session,
            bank=main,
            actor="t",
            verified=True,
            items=[
                banks.NewItem([PdqSignal(f"{i:064x}", 100)], f"n{i}", "file") for i in range(1, 5)
            ],
        )
        banks.withdraw_item(session, bank=main, public_id=added[0].public_id, actor="t")
        private = banks.active_items(session, banks=[main])[1]
        banks.verify_item(session, bank=main, public_id=private.public_id, actor="reviewer")
    db.dispose()
    records, cursor, pages = [], None, 0
    while True:
        page = client.get(
            "/v1/banks/main/hashes",
            params={"cursor": cursor} if cursor else {},
            headers=auth(world["main"]),
        ).json()
        records += page["records"]
        cursor, pages = page["cursor"], pages + 1
        if not page["more"]:
            break
    assert pages >= 3  # page size 3
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    ops = [(r["op"], r["item_id"]) for r in records]
    withdrawn = added[0].public_id
    assert ("withdraw", withdrawn) in ops
    assert ("add", withdrawn) not in ops  # its values were purged from the log
    assert ops[-1] == ("add", private.public_id)  # shared from the moment it was verified
    assert all("signals" not in r for r in records if r["op"] == "withdraw")
    assert all("label" not in r and "case" not in r for r in records)
    again = client.get(
        "/v1/banks/main/hashes", params={"cursor": cursor}, headers=auth(world["main"])
    )
    assert again.json()["records"] == []


def test_sync_scoping_and_cursors(client: TestClient, world) -> None:
    assert client.get("/v1/banks/other/hashes", headers=auth(world["main"])).status_code == 404
    assert client.get("/v1/banks/nope/hashes", headers=auth(world["main"])).status_code == 404
    other_cursor = client.get("/v1/banks/other/hashes", headers=auth(world["other"])).json()[
        "cursor"
    ]
    for cursor in [other_cursor, "x.y", "1", "-1.-1"]:
        result = client.get(
            "/v1/banks/main/hashes", params={"cursor": cursor}, headers=auth(world["main"])
        )
        assert result.status_code == 400, cursor


def test_disputes_queue_for_review_and_upheld_withdraws(
    client: TestClient, world, settings
) -> None:
    result = client.post(
        "/v1/disputes",
        json={"item_id": world["item"], "reason": "a stock photo"},
        headers=auth(world["main"]),
    )
    assert result.status_code == 202
    dispute_id = result.json()["dispute_id"]
    assert (
        client.post(
            "/v1/disputes",
            json={"item_id": world["item"], "reason": "x"},
            headers=auth(world["other"]),
        ).status_code
        == 404
    )
    db = open_database(settings)
    with db.session() as session:
        org = cases.get_org(session)
        memes = banks.create_bank(session, org=org, name="memes", negative=True)
        platforms.resolve_dispute(
            session, org=org, dispute_id=dispute_id, actor="reviewer", uphold=True, move_to=memes
        )
    db.dispose()
    body = {"signals": [{"type": "pdq", "value": HERS}]}
    result = client.post("/v1/match", json=body, headers=auth(world["main"]))
    assert result.json()["results"][0]["matches"] == []  # visible to the very next request


def test_rate_limit(settings: Settings, world) -> None:
    limited = settings.model_copy(update={"api_rate_per_minute": 2})
    with TestClient(create_app(limited)) as client:
        body = {"signals": [{"type": "pdq", "value": HERS}]}
        codes = [
            client.post("/v1/match", json=body, headers=auth(world["main"])).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        # Another key has its own budget.
        assert client.post("/v1/match", json=body, headers=auth(world["other"])).status_code == 200


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/match", "/v1/match/file", "/v1/banks/{bank}/hashes", "/v1/disputes"} <= set(paths)


def test_declared_oversized_upload_is_refused_before_reading(client: TestClient, world) -> None:
    headers = {**auth(world["main"]), "Content-Length": str(2 * 1024**3)}  # "a 2 GB upload"
    result = client.post("/v1/match/file", content=b"\xff\xd8\xff", headers=headers)
    assert result.status_code == 413


def test_huge_json_bodies_are_refused_without_being_read(client: TestClient, world) -> None:
    huge = b'{"signals": [' + b'{"type": "pdq", "value": "00"},' * 60_000 + b"{}]}"
    headers = {**auth(world["main"]), "Content-Type": "application/json"}
    assert client.post("/v1/match", content=huge, headers=headers).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"signals": ['
        for _ in range(100):
            yield b'{"type": "pdq", "value": "' + b"0" * 20_000 + b'"},'
        yield b"{}]}"

    result = client.post("/v1/match", content=chunks(), headers=headers)
    assert result.status_code == 413
    assert "over the limit" in result.json()["detail"]


def test_grids_verify_and_find_overlaid_copies_through_the_api(
    client: TestClient, world, settings: Settings
) -> None:
    from PIL import ImageDraw

    scene = render_scene(400, 300, seed=12)
    banked = pdq_from_rgb(scene, grid=True)
    db = open_database(settings)
    with db.session() as session:
        main = banks.get_bank(session, org=cases.get_org(session), name="main")
        (item,) = banks.add_items(
            session, bank=main, actor="t", verified=True, items=[banks.NewItem([banked], "g", "f")]
        )
        item_id = item.public_id
    db.dispose()
    assert banked.grid is not None
    grid = banked.grid.to_json()
    other = pdq_from_rgb(render_scene(400, 300, seed=13), grid=True).grid
    assert other is not None
    signals = [
        {"type": "pdq", "value": banked.value, "grid": grid},  # verified by its parts
        {"type": "pdq", "value": banked.value, "grid": other.to_json()},  # parts disagree
    ]
    result = client.post("/v1/match", json={"signals": signals}, headers=auth(world["main"]))
    assert result.status_code == 200, result.text
    agreeing, vetoed = result.json()["results"]
    assert [(m["item_id"], m["regions_matched"]) for m in agreeing["matches"]] == [(item_id, 9)]
    assert vetoed["matches"] == []

    broken = {"type": "pdq", "value": banked.value, "grid": {"cells": grid["cells"][:8]}}
    refused = client.post("/v1/match", json={"signals": [broken]}, headers=auth(world["main"]))
    assert refused.status_code == 422
    assert "grid" in refused.json()["detail"]["errors"][0]["error"]

    captioned = Image.fromarray(scene)
    ImageDraw.Draw(captioned).rectangle((0, 0, 400, 36), fill=(255, 255, 255))
    upload = io.BytesIO()
    captioned.save(upload, "PNG")
    found = client.post("/v1/match/file", content=upload.getvalue(), headers=auth(world["main"]))
    assert found.status_code == 200, found.text
    (match,) = [m for m in found.json()["matches"] if m["item_id"] == item_id]
    assert match["regions_matched"] >= 3


def test_crops_are_found_through_anchored_regions_over_the_api(
    client: TestClient, world, settings: Settings
) -> None:
    from skimage import data

    photo = data.astronaut()
    banked = pdq_from_rgb(photo, grid=True)
    assert banked.grid is not None
    assert banked.grid.anchored
    db = open_database(settings)
    with db.session() as session:  # stored as a survivor's browser would send it
        main = banks.get_bank(session, org=cases.get_org(session), name="main")
        (item,) = banks.add_items(
            session, bank=main, actor="t", verified=True, items=[banks.NewItem([banked], "a", "f")]
        )
        item_id = item.public_id
    db.dispose()

    upload = io.BytesIO()
    Image.fromarray(photo[60:470, 90:500]).save(upload, "JPEG", quality=80)  # 20% cut
    found = client.post("/v1/match/file", content=upload.getvalue(), headers=auth(world["main"]))
    assert found.status_code == 200, found.text
    (match,) = [m for m in found.json()["matches"] if m["item_id"] == item_id]
    assert match["region"] == "anchored"
    assert match["inliers"] >= 2
    assert match["regions_matched"] >= 1
    assert set(match["placement"]) == {"scale", "degrees"}

    grid = banked.grid.to_json()
    grid["anchored"] = [region.to_json() for region in banked.grid.anchored]
    grid["anchored"][0]["anchors"] = [1.0, 2.0]
    broken = {"type": "pdq", "value": banked.value, "grid": grid}
    refused = client.post("/v1/match", json={"signals": [broken]}, headers=auth(world["main"]))
    assert refused.status_code == 422
    assert "anchors" in refused.json()["detail"]["errors"][0]["error"]
