"""``reclaim contacts`` through typer's test runner, on a real SQLite database and a real
security.txt served on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli import Ran, runner
from tests.monitor.conftest import SITE_ADDRESS, Site, _serve, send


@pytest.fixture
def reclaim(tmp_path: Path) -> Callable[..., Ran]:
    """Run ``reclaim`` with its data in a fresh folder."""
    return runner(
        tmp_path / "data",
        RECLAIM_FETCH_ALLOW_NETWORKS=f"{SITE_ADDRESS}/32",
        RECLAIM_FETCH_RETRIES="0",
    )


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    text = (
        b"Contact: mailto:abuse@site.example\n"
        b"Contact: https://site.example/report\n"
        b"Preferred-Languages: ko\n"
        b"Expires: 2099-01-01T00:00:00Z\n"
    )
    served = _serve(
        SITE_ADDRESS,
        {"/.well-known/security.txt": lambda h: send(h, 200, text, "text/plain; charset=utf-8")},
    )
    yield served
    served.server.shutdown()


def _listed(reclaim) -> list[dict]:
    done = reclaim("contacts", "list", "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_add_list_update_and_delete(reclaim) -> None:
    added = reclaim(
        "contacts", "add", "Shop.Example", "host_abuse",
        "--email", "abuse@shop.example", "--languages", "ko,en",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added\tshop.example\thost_abuse\tabuse@shop.example")
    updated = reclaim(
        "contacts", "add", "shop.example", "host_abuse", "--form-url", "https://shop.example/r"
    )
    assert updated.stdout.startswith("updated\t")
    [row] = _listed(reclaim)
    assert (row["email"], row["form_url"], row["origin"]) == (
        None,
        "https://shop.example/r",
        "manual",
    )
    text = reclaim("contacts", "list", "--channel", "host_abuse")
    assert text.stdout == "shop.example\thost_abuse\t-\thttps://shop.example/r\ten\tmanual\n"
    assert reclaim("contacts", "list", "--channel", "nope").returncode == 2
    assert reclaim("contacts", "delete", "shop.example", "host_abuse").returncode == 0
    assert _listed(reclaim) == []
    gone = reclaim("contacts", "delete", "shop.example", "host_abuse")
    assert gone.returncode == 2
    assert "no host_abuse entry for shop.example" in gone.stderr


def test_a_bad_entry_is_a_usage_error_and_stores_nothing(reclaim) -> None:
    bad = reclaim(
        "contacts", "add", "x.example", "host_abuse", "--email", "a@x.example\r\nBcc: b@y.example"
    )
    assert bad.returncode == 2
    assert "line break" in bad.stderr
    assert reclaim("contacts", "add", "x.example", "host_abuse").returncode == 2
    assert reclaim("contacts", "add", "x.example", "fax", "--email", "a@x.example").returncode == 2
    assert _listed(reclaim) == []


def test_import_keeps_good_rows_and_exits_1_for_broken_ones(reclaim, tmp_path: Path) -> None:
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_bytes(
        "\ufeffdomain,channel,email,languages,notes\r\n"
        "one.example,host_abuse,abuse@one.example,ko,첫째\r\n"
        "two.example,host_abuse,not-an-address,,\r\n"
        "one.example,host_abuse,again@one.example,,\r\n".encode()
    )
    done = reclaim("contacts", "import", str(csv_file))
    assert done.returncode == 1
    assert done.stdout.splitlines()[:4] == ["added 1", "updated 0", "errors 1", "duplicates 1"]
    assert "line 3: error: not an e-mail address" in done.stdout
    assert "line 4: duplicate: one.example host_abuse is already on line 2" in done.stdout
    [row] = _listed(reclaim)
    assert (row["domain"], row["notes"], row["origin"]) == ("one.example", "첫째", "csv")
    csv_file.write_text("domain,channel,email\none.example,host_abuse,new@one.example\n")
    again = reclaim("contacts", "import", str(csv_file), "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout) == {"added": 0, "updated": 1, "errors": [], "duplicates": []}


def test_import_refuses_unreadable_files_clearly(reclaim, tmp_path: Path) -> None:
    euc_kr = tmp_path / "euc-kr.csv"
    euc_kr.write_bytes("domain,channel,notes\n사이트.example,host_abuse,x\n".encode("euc-kr"))
    done = reclaim("contacts", "import", str(euc_kr))
    assert done.returncode == 1
    assert "not UTF-8" in done.stderr
    assert reclaim("contacts", "import", str(tmp_path / "missing.csv")).returncode == 1
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("domain,channel,phone\n")
    refused = reclaim("contacts", "import", str(unknown))
    assert refused.returncode == 1
    assert "unknown column(s) 'phone'" in refused.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in reclaim("contacts", "import", str(empty)).stderr


def test_seed_adds_the_authorities_once(reclaim) -> None:
    first = reclaim("contacts", "seed")
    assert first.returncode == 0, first.stderr
    count = int(first.stdout.split()[1])
    assert count >= 3
    assert reclaim("contacts", "seed").stdout == "seeded 0 entries\n"
    rows = _listed(reclaim)
    assert len(rows) == count
    assert {row["origin"] for row in rows} == {"seed"}
    assert "kcsc" in {row["channel"] for row in rows}


def test_discover_reads_security_txt_and_stores_it(reclaim, site: Site) -> None:
    done = reclaim("contacts", "discover", "site.example", "--base-url", site.url(""))
    assert done.returncode == 0, done.stderr
    assert "found\tabuse@site.example\tko\t" in done.stdout
    assert "stored\tsite.example\thost_abuse\tabuse@site.example\thttps://site.example/report" in (
        done.stdout
    )
    [row] = _listed(reclaim)
    assert (row["origin"], row["languages"]) == ("security.txt", "ko")
    reclaim("contacts", "add", "site.example", "host_abuse", "--email", "desk@site.example")
    kept = reclaim("contacts", "discover", "site.example", "--base-url", site.url(""))
    assert "kept the manual entry" in kept.stdout
    assert _listed(reclaim)[0]["email"] == "desk@site.example"


def test_discover_with_nothing_found_suggests_the_convention(reclaim, site: Site) -> None:
    done = reclaim("contacts", "discover", "www.shop.co.kr", "--base-url", site.url("/none"))
    assert done.returncode == 0, done.stderr
    assert "HTTP 404" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("nothing stored")
    assert _listed(reclaim) == []
    assert reclaim("contacts", "discover", "not a domain").returncode == 2
