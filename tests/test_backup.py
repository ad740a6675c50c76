"""Backups and restores of a whole installation, through the CLI: what was stored comes
back readable with the master key kept apart; a survivor who withdrew after the backup
stays withdrawn; damaged backups and occupied targets are refused; PostgreSQL too."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.banks.models import BankItem
from reclaim.cases import service as cases
from reclaim.cases.models import Case
from reclaim.config import Settings
from reclaim.signals import PdqSignal
from reclaim.store import open_database
from reclaim.store.blobs import Blob, BlobStore, Shredded
from reclaim.store.envelope import MasterKey
from reclaim.survivor import ledger
from reclaim.survivor.withdrawal import withdraw_case
from tests.backends import TEMPLATE
from tests.cli import Ran, run
from tests.services import PostgresCluster


def _reclaim(settings: Settings) -> Callable[..., Ran]:
    env = {"RECLAIM_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["RECLAIM_DATABASE_URL"] = settings.database_url
    return lambda *args: run(env, *args)


def _two_cases(settings: Settings) -> tuple[str, str]:
    """Two cases, each with a banked hash and a stored file; their numbers."""
    master = MasterKey.create(settings.resolved_master_key_file)
    store = BlobStore(settings.data_dir / "blobs", master)
    rng = np.random.default_rng(1)
    database = open_database(settings)
    numbers = []
    with database.session() as session:
        org = cases.get_org(session)
        bank = banks.create_bank(session, org=org, name="survivors")
        for name in ("hers", "another"):
            case = cases.open_case(session, org=org, actor="desk")
            banks.add_items(
                session,
                bank=bank,
                actor="portal",
                case=case,
                verified=True,
                items=[banks.NewItem([PdqSignal(rng.bytes(32).hex(), 100)], name, "portal")],
            )
            store.put(session, org_id=org.id, case_id=case.id, kind="capture", data=name.encode())
            numbers.append(case.number)
    database.dispose()
    return numbers[0], numbers[1]


def _state(settings: Settings, master_from: Path) -> dict[str, tuple[str, list[str], bytes | str]]:
    """Per case: its status, its items' states and its stored file (or why not readable)."""
    store = BlobStore(settings.data_dir / "blobs", MasterKey.load(master_from))
    database = open_database(settings)
    out = {}
    with database.session() as session:
        for case in session.scalars(select(Case).order_by(Case.id)):
            items = session.scalars(select(BankItem).where(BankItem.case_id == case.id)).all()
            blob = session.scalars(select(Blob).where(Blob.case_id == case.id)).one()
            try:
                stored: bytes | str = store.read(session, blob)
            except Shredded:
                stored = "shredded"
            out[case.number] = (case.status.value, [i.status.value for i in items], stored)
    database.dispose()
    return out


def _withdraw(settings: Settings, number: str) -> None:
    """As the portal does it: withdraw, commit, then record it in the ledger."""
    database = open_database(settings)
    with database.session() as session:
        case = cases.get_case(session, org=cases.get_org(session), number=number)
        withdraw_case(
            session, case=case, blobs=BlobStore(settings.data_dir / "blobs", None), actor="her"
        )
    database.dispose()
    ledger.record(settings, number)


@pytest.mark.one_pass  # the embedded SQLite database; PostgreSQL is the last test's
def test_a_restore_brings_back_what_was_stored_but_not_a_withdrawn_case(tmp_path: Path) -> None:
    live = Settings(data_dir=tmp_path / "live")
    hers, another = _two_cases(live)
    reclaim = _reclaim(live)
    made = reclaim("backup", "create", str(tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip())
    assert "master key is not in it" in made.stderr
    key = live.resolved_master_key_file.read_bytes()
    assert not [p for p in folder.rglob("*") if p.is_file() and key in p.read_bytes()]
    assert reclaim("backup", "verify", str(folder)).returncode == 0

    _withdraw(live, hers)  # after the backup: she must not come back with it
    key_copy = tmp_path / "offline" / "master.key"  # kept apart, as the docs say
    key_copy.parent.mkdir()
    shutil.copy2(live.resolved_master_key_file, key_copy)
    ledger_copy = tmp_path / "offline" / "withdrawals.log"
    shutil.copy2(ledger.ledger_path(live), ledger_copy)
    shutil.rmtree(live.data_dir)  # the machine is lost

    fresh = Settings(data_dir=tmp_path / "new-machine", master_key_file=key_copy)
    env = {"RECLAIM_DATA_DIR": str(fresh.data_dir), "RECLAIM_MASTER_KEY_FILE": str(key_copy)}
    restored = run(env, "backup", "restore", str(folder), "--ledger", str(ledger_copy))
    assert restored.returncode == 0, restored.stderr
    assert f"withdrawn again (withdrawn after the backup was made): {hers}" in restored.stdout
    state = _state(fresh, key_copy)
    assert state[another] == ("open", ["active"], b"another")
    assert state[hers] == ("withdrawn", ["withdrawn"], "shredded")
    assert ledger.read([ledger.ledger_path(fresh)]) == [hers]

    again = run(env, "backup", "restore", str(folder))
    assert again.returncode == 1
    assert "holds an installation already" in again.stderr
    replaced = run(env, "backup", "restore", str(folder), "--replace")
    assert replaced.returncode == 0, replaced.stderr  # the restored ledger withdraws her again
    assert len(list(fresh.data_dir.glob("reclaim.db.replaced-*"))) >= 1  # set aside, not lost
    assert _state(fresh, key_copy)[hers] == ("withdrawn", ["withdrawn"], "shredded")


@pytest.mark.one_pass  # the embedded SQLite database
def test_damaged_or_foreign_backups_are_refused_before_anything_is_touched(
    tmp_path: Path,
) -> None:
    live = Settings(data_dir=tmp_path / "live")
    _two_cases(live)
    folder = Path(_reclaim(live)("backup", "create", str(tmp_path / "b")).stdout.strip())
    target = Settings(data_dir=tmp_path / "target")
    env = {"RECLAIM_DATA_DIR": str(target.data_dir)}

    blob = next((folder / "blobs").rglob("*/*"))
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    damaged = run(env, "backup", "restore", str(folder))
    assert damaged.returncode == 1
    assert "is damaged" in damaged.stderr
    assert not (target.data_dir / "reclaim.db").exists()  # refused before touching anything
    blob.write_bytes(original)

    (folder / "blobs" / "planted").write_bytes(b"x")
    assert "does not list" in run(env, "backup", "verify", str(folder)).stderr
    (folder / "blobs" / "planted").unlink()
    original_manifest = (folder / "manifest.json").read_text()
    manifest = json.loads(original_manifest)
    for outside in ("../../etc/passwd", "/etc/passwd"):
        listed = {**manifest, "files": {**manifest["files"], outside: {"bytes": 1}}}
        (folder / "manifest.json").write_text(json.dumps(listed))
        assert f"is missing {outside}" in run(env, "backup", "verify", str(folder)).stderr
    (folder / "database.sqlite3").unlink()
    without = {k: v for k, v in manifest["files"].items() if k != "database.sqlite3"}
    (folder / "manifest.json").write_text(json.dumps({**manifest, "files": without}))
    assert "no database copy" in run(env, "backup", "restore", str(folder)).stderr
    assert not (target.data_dir / "reclaim.db").exists()
    (folder / "manifest.json").write_text("{")
    assert "not a finished Reclaim backup" in run(env, "backup", "verify", str(folder)).stderr
    assert run(env, "backup", "verify", str(tmp_path / "nowhere")).returncode == 1
    unfinished = list((tmp_path / "b").glob(".*partial"))
    assert unfinished == []


@pytest.mark.one_pass  # makes and restores its own PostgreSQL databases
def test_postgresql_backup_and_restore(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    source_name, target_name = f"backup_src_{os.getpid()}", f"backup_dst_{os.getpid()}"
    for name in (source_name, target_name):
        postgres_cluster.drop_database(name)
    live = Settings(
        data_dir=tmp_path / "live",
        database_url=postgres_cluster.create_database(source_name, template=TEMPLATE),
    )
    hers, another = _two_cases(live)
    made = _reclaim(live)("backup", "create", str(tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip())
    assert (folder / "database.pgdump").is_file()
    _withdraw(live, hers)

    occupied = run(
        {"RECLAIM_DATA_DIR": str(tmp_path / "x"), "RECLAIM_DATABASE_URL": live.database_url or ""},
        "backup",
        "restore",
        str(folder),
    )
    assert occupied.returncode == 1  # never over a database in use
    target = Settings(
        data_dir=tmp_path / "target",
        database_url=postgres_cluster.create_database(target_name),
        master_key_file=live.resolved_master_key_file,
    )
    shutil.copy2(ledger.ledger_path(live), tmp_path / "withdrawals.log")
    restored = _reclaim(target)(
        "backup", "restore", str(folder), "--ledger", str(tmp_path / "withdrawals.log")
    )
    assert restored.returncode == 0, restored.stderr
    state = _state(target, live.resolved_master_key_file)
    assert state[another] == ("open", ["active"], b"another")
    assert state[hers] == ("withdrawn", ["withdrawn"], "shredded")
    database = open_database(target)
    with database.session() as session:  # the sequences go on from the restored rows
        banks.add_items(
            session,
            bank=banks.get_bank(session, org=cases.get_org(session), name="survivors"),
            actor="t",
            items=[banks.NewItem([PdqSignal("ab" * 32, 100)], "new", "t")],
        )
    database.dispose()
    for name in (source_name, target_name):
        postgres_cluster.drop_database(name)
