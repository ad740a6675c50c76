"""Backups of an installation, and restoring one (``reclaim backup create|verify|restore``).

A backup is a folder ``reclaim-backup-<UTC time>`` holding:

- ``database.sqlite3`` -- SQLite's online backup of the embedded database (consistent
  while Reclaim runs), or ``database.pgdump`` -- ``pg_dump``'s custom format of PostgreSQL;
- ``blobs/`` -- the blob store's files, copied *after* the database, so every stored file
  the database copy refers to is there (they are encrypted: see :mod:`reclaim.store.blobs`);
- ``withdrawals.log`` -- the withdrawal ledger (:mod:`reclaim.survivor.ledger`);
- ``manifest.json`` -- the release and schema revision, and each file's size and
  SHA-256, written last: a folder without it is an unfinished backup.

The **master key is never put into a backup**: the files and the wrapped keys in the
database are useless without it, so a stolen backup discloses nothing readable. Keep the
key (``keys/master.key``) apart, offline (docs/deploy.md).

Restoring checks every file against the manifest first, refuses to overwrite a database
that holds data, restores the database and the files, migrates the schema to this
release's, and then withdraws again every case in the ledgers (the backup's, the data
folder's current one and any given): a survivor who withdrew after the backup was taken
is not brought back. The matchers' snapshots in the data folder are removed (they follow
a change log the restore rewound).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from reclaim import __version__
from reclaim.cases.models import Case, CaseStatus
from reclaim.config import Settings
from reclaim.store.base import utcnow
from reclaim.store.blobs import BlobStore
from reclaim.store.db import Database, open_database
from reclaim.store.digest import file_sha256
from reclaim.store.envelope import KeyProblem, MasterKey
from reclaim.survivor import ledger
from reclaim.survivor.withdrawal import withdraw_case

FORMAT = "reclaim-backup"
VERSION = 1
MANIFEST = "manifest.json"
_SQLITE = "database.sqlite3"
_PGDUMP = "database.pgdump"


class BackupError(Exception):
    """A backup cannot be made, checked or restored; the message says why."""


@dataclass(frozen=True, slots=True)
class Made:
    folder: Path
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Restored:
    revision: str | None
    files: int
    withdrawn_again: list[str]
    """Case numbers withdrawn again after the restore (withdrawn after the backup)."""


def create(settings: Settings, destination: Path) -> Made:
    """Back the installation up into a new folder under ``destination``."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    folder = destination / f"reclaim-backup-{stamp}"
    if folder.exists():
        raise BackupError(f"{folder} exists already (one backup per second)")
    partial = destination / f".{folder.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        database = open_database(settings, migrate=False)
        try:
            revision = database.current_revision()
        finally:
            database.dispose()
        url = settings.resolved_database_url
        if url.startswith("sqlite"):
            _sqlite_backup(Path(make_url(url).database or ""), partial / _SQLITE)
        else:
            _pg_dump(url, partial / _PGDUMP)
        blobs = settings.data_dir / "blobs"
        if blobs.is_dir():  # after the database: every blob its copy refers to is here
            for source in _blob_files(blobs):
                target = partial / "blobs" / source.relative_to(blobs)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        ledger_file = ledger.ledger_path(settings)
        if ledger_file.is_file():
            shutil.copy2(ledger_file, partial / "withdrawals.log")
        files = {
            str(path.relative_to(partial)): _describe(path)
            for path in sorted(partial.rglob("*"))
            if path.is_file()
        }
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created": utcnow().isoformat(),
            "release": __version__,
            "revision": revision,
            "database": "sqlite" if url.startswith("sqlite") else "postgresql",
            "files": files,
        }
        _write_synced(partial / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        os.rename(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Made(folder, len(files), sum(f["bytes"] for f in files.values()))


def verify(folder: Path) -> dict[str, Any]:
    """The manifest of the backup in ``folder`` once every file it lists is there, whole
    and unchanged, and no file it does not list; raises :class:`BackupError`."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{folder} is not a finished Reclaim backup: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} is not a Reclaim backup")
    if manifest.get("version") != VERSION:
        raise BackupError(f"{folder} is backup format {manifest.get('version')}, not {VERSION}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BackupError(f"{folder}/{MANIFEST} lists no files")
    present = {
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
    }
    if extra := sorted(present - set(files)):
        raise BackupError(f"{folder} holds files its manifest does not list: {extra[:5]}")
    for name, expected in files.items():
        if name not in present:  # also any absolute or ../ name: never read outside
            raise BackupError(f"{folder} is missing {name}")
        if _describe(folder / name) != expected:
            raise BackupError(f"{folder}/{name} is damaged (its size or SHA-256 differs)")
    database = {"sqlite": _SQLITE, "postgresql": _PGDUMP}.get(manifest.get("database", ""))
    if database is None or database not in files:
        raise BackupError(f"{folder} holds no database copy")
    return manifest


def restore(
    settings: Settings, folder: Path, *, ledgers: Iterable[Path] = (), replace: bool = False
) -> Restored:
    """Restore the backup in ``folder`` into the configured database and data folder."""
    manifest = verify(folder)
    url = settings.resolved_database_url
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    if manifest["database"] != kind:
        raise BackupError(
            f"the backup holds a {manifest['database']} database; this installation uses {kind}"
        )
    _refuse_to_overwrite(settings, replace=replace)
    current_ledger = ledger.ledger_path(settings)
    withdrawn = ledger.read([folder / "withdrawals.log", current_ledger, *ledgers])
    if kind == "sqlite":
        target = Path(make_url(url).database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        aside = target.with_name(f"{target.name}.replaced-{utcnow():%Y%m%dT%H%M%SZ}")
        for suffix in ("", "-wal", "-shm"):  # --replace keeps what it replaces, set aside
            if Path(f"{target}{suffix}").exists():
                os.replace(f"{target}{suffix}", f"{aside}{suffix}")
        shutil.copy2(folder / _SQLITE, target)
    else:
        _pg_restore(url, folder / _PGDUMP)
    blobs = settings.data_dir / "blobs"
    restored_files = 0
    for source in _blob_files(folder / "blobs"):
        target = blobs / source.relative_to(folder / "blobs")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        restored_files += 1
    shutil.rmtree(settings.data_dir / "matchers", ignore_errors=True)
    database = open_database(settings)  # to this release's schema
    try:
        again = _withdraw_again(settings, database, withdrawn)
        revision = database.current_revision()
    finally:
        database.dispose()
    # The ledger now lists every withdrawal the restored database has seen.
    known = set(ledger.read([current_ledger]))
    for number in withdrawn:
        if number not in known:
            ledger.record(settings, number)
    return Restored(revision, restored_files, again)


def _withdraw_again(settings: Settings, database: Database, numbers: list[str]) -> list[str]:
    if not numbers:
        return []
    try:
        master: MasterKey | None = MasterKey.load(settings.resolved_master_key_file)
    except KeyProblem:
        master = None
    blobs = BlobStore(settings.data_dir / "blobs", master)
    again = []
    with database.session() as session:
        for case in session.scalars(select(Case).where(Case.number.in_(numbers))):
            if case.status is not CaseStatus.WITHDRAWN:
                again.append(case.number)
            withdraw_case(session, case=case, blobs=blobs, actor="restore")
    return sorted(again)


def _refuse_to_overwrite(settings: Settings, *, replace: bool) -> None:
    database = open_database(settings, migrate=False)
    try:
        tables = set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
    if "alembic_version" in tables and not replace:
        raise BackupError(
            "the configured database holds an installation already; restore into an empty "
            "one, or pass --replace to overwrite it"
        )
    if tables and settings.resolved_database_url.startswith("postgresql"):
        raise BackupError(
            "pg_restore needs an empty database: drop and create it again first "
            "(the restore never drops a PostgreSQL database itself)"
        )


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        origin.backup(copy)  # a consistent copy, while Reclaim goes on writing
    finally:
        copy.close()
        origin.close()
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for ``url`` (no password in it: that goes in PGPASSWORD)."""
    parsed = make_url(url).set(drivername="postgresql")
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
        parsed = parsed.set(password=None)
    return parsed.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if versions:
        return str(versions[0])  # the server's own version, not the wrapper's guess
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _pg_dump(url: str, target: Path) -> None:
    uri, env = _libpq(url)
    done = subprocess.run(
        [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", uri],
        env=env,
        capture_output=True,
        text=True,
        timeout=24 * 3600,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-2000:]}")


def _pg_restore(url: str, source: Path) -> None:
    uri, env = _libpq(url)
    done = subprocess.run(
        [
            *(_pg_tool("pg_restore"), "--exit-on-error", "--no-owner", "--single-transaction"),
            *(f"--dbname={uri}", str(source)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=24 * 3600,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[-2000:]}")


def _blob_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith(".partial"):
                yield path


def _describe(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
