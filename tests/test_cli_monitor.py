"""The monitor through the CLI: the demo end to end, sources, sightings as JSON lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import Ran, run


@pytest.fixture
def reclaim(tmp_path: Path) -> Callable[..., Ran]:
    def command(*args: str, data: Path | None = None) -> Ran:
        return run({"RECLAIM_DATA_DIR": str(data or tmp_path / "data")}, *args)

    return command


@pytest.mark.one_pass  # the demo keeps its own SQLite file, whatever database is set
def test_the_demo_finds_every_planted_copy(reclaim, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = reclaim("demo", "run", "--folder", str(folder))
    assert done.returncode == 0, done.stderr
    assert "6 sightings" in done.stdout
    listed = reclaim("sightings", "--json", data=folder)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 6
    for row in rows:
        assert set(row) >= {
            "id",
            "case",
            "page_url",
            "media_url",
            "first_seen",
            "last_seen",
            "status",
            "match",
        }
        assert row["status"] == "new"
        assert row["match"]["bank"] == "survivors"
        assert row["match"]["distance"] <= 31
    assert {row["match"]["signal"] for row in rows} == {"pdq", "vpdq"}
    first = rows[0]
    reviewed = reclaim("sighting", "review", str(first["id"]), "confirmed", data=folder)
    assert reviewed.returncode == 0, reviewed.stderr
    assert reviewed.stdout == f"{first['id']}\tconfirmed\n"
    for bad, code in ((["99999", "confirmed"], 2), ([str(first["id"]), "bogus"], 2)):
        assert reclaim("sighting", "review", *bad, data=folder).returncode == code
    assert reclaim("sighting", "review", str(first["id"]), "new", data=folder).returncode == 1
    timeline = reclaim("case", "show", first["case"], "--json", data=folder)
    events = [json.loads(line) for line in timeline.stdout.splitlines()]
    assert [e["event"] for e in events].count("sighting.found") == 6
    assert events[-1]["event"] == "sighting.reviewed"
    assert events[-1]["status"] == "confirmed"
    statuses = [
        json.loads(line)["status"]
        for line in reclaim("sightings", "--json", data=folder).stdout.splitlines()
    ]
    assert statuses.count("confirmed") == 1
    again = reclaim("demo", "run", "--folder", str(folder))  # a demo folder is emptied first
    assert again.returncode == 0, again.stderr


def test_the_demo_never_empties_a_folder_it_did_not_make(reclaim, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "evidence.txt").write_text("keep me")
    done = reclaim("demo", "run", "--folder", str(precious))
    assert done.returncode == 2
    assert "not a demo folder" in done.stderr
    assert (precious / "evidence.txt").read_text() == "keep me"


def test_sources_through_the_cli(reclaim) -> None:
    for bad in (["file:///etc/passwd"], ["http://user:pw@example.com/"], ["--kind", "x", "a"]):
        done = reclaim("source", "add", *bad)
        assert done.returncode == 2, (bad, done.stderr)
        assert done.stderr.startswith("reclaim: ")
    refused = reclaim("source", "add", "--kind", "reported", "https://example.com/p/1")
    assert refused.returncode == 2
    assert "case" in refused.stderr
    number = reclaim("case", "open").stdout.strip()
    reported = reclaim("source", "add", "https://example.com/p/1", "--case", number)
    assert reported.returncode == 0, reported.stderr
    assert "\treported\t" in reported.stdout
    site = reclaim("source", "add", "https://Example.com:443/board", "--depth", "3")
    assert site.returncode == 0, site.stderr
    listed = [json.loads(line) for line in reclaim("source", "list", "--json").stdout.splitlines()]
    assert [(s["kind"], s["url"], s["case"]) for s in listed] == [
        ("reported", "https://example.com/p/1", number),
        ("pages", "https://example.com/board", None),
    ]
    assert listed[1]["depth"] == 3
    assert listed[1]["round"] == 0
    timeline = reclaim("case", "show", number, "--json")
    assert [json.loads(line)["event"] for line in timeline.stdout.splitlines()] == ["case.opened"]
