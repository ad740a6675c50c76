"""Keys and the custody log through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.evidence import custody
from reclaim.store import open_database
from tests.cli import Ran, run


def _run(data: Path, *args: str) -> Ran:
    return run({"RECLAIM_DATA_DIR": str(data)}, *args)


def test_keys_and_the_log_through_the_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = _run(data, "keys", "rotate")
    assert missing.returncode == 1
    assert "reclaim keys init" in missing.stderr
    made = _run(data, "keys", "init")
    assert made.returncode == 0, made.stderr
    assert "keep a copy" in made.stderr
    key_id = made.stdout.split("\t")[0]
    assert (data / "keys" / "master.key").stat().st_mode & 0o777 == 0o600
    again = _run(data, "keys", "init")
    assert again.stdout.split("\t")[0] == key_id  # nothing new is made
    database = open_database(Settings(data_dir=data))
    try:
        with database.session() as session:
            org = cases.get_org(session)
            for n in range(5):
                custody.append(session, org=org, event="captured", actor="test", details={"n": n})
    finally:
        database.dispose()
    head = json.loads(_run(data, "log", "head").stdout)
    assert head["size"] == 5
    assert head["key_id"] == key_id
    rotated = _run(data, "keys", "rotate")
    assert rotated.returncode == 0
    listed = [json.loads(line) for line in _run(data, "keys", "list", "--json").stdout.splitlines()]
    assert [k["retired"] is None for k in listed] == [False, True]
    assert _run(data, "log", "head").returncode == 0
    verified = _run(data, "log", "verify")
    assert verified.returncode == 0, verified.stdout
    assert "entries checked: 5" in verified.stdout
    assert "tree heads checked: 2" in verified.stdout
    raw = open_database(Settings(data_dir=data), migrate=False)
    with raw.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE custody_entries SET body = replace(body, 'test', 'tset') WHERE position = 2"
            )
        )
    raw.dispose()
    broken = _run(data, "log", "verify")
    assert broken.returncode == 1
    assert "PROBLEM: entry 2" in broken.stdout
    assert "does NOT hold" in broken.stdout
