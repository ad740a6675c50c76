"""``reclaim backup create|verify|restore``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reclaim import backup
from reclaim.cli.app import app, fail, load_settings

backup_app = typer.Typer(
    help="Backups: the database and stored files (never the master key).", no_args_is_help=True
)
app.add_typer(backup_app, name="backup")


@backup_app.command("create")
def backup_create(
    destination: Annotated[Path, typer.Argument(help="Folder to make the backup in.")],
) -> None:
    """Back up the database (a consistent copy while Reclaim runs), the stored files and
    the withdrawal ledger into a new folder under DESTINATION."""
    try:
        made = backup.create(load_settings(), destination)
    except (backup.BackupError, OSError) as error:
        raise fail(f"backup failed, nothing was kept: {error}") from None
    sys.stdout.write(f"{made.folder}\n")
    sys.stderr.write(
        f"{made.files} files, {made.bytes:,} bytes. The master key is not in it: keep a copy "
        "of keys/master.key apart from the backups, and copy withdrawals.log with them.\n"
    )


@backup_app.command("verify")
def backup_verify(folder: Path) -> None:
    """Check that every file of the backup in FOLDER is there and unchanged."""
    try:
        manifest = backup.verify(folder)
    except backup.BackupError as error:
        raise fail(str(error)) from None
    sys.stdout.write(
        f"ok: {len(manifest['files'])} files, {manifest['database']} database at revision "
        f"{manifest['revision']}, made {manifest['created']} by release {manifest['release']}\n"
    )


@backup_app.command("restore")
def backup_restore(
    folder: Path,
    ledger: Annotated[
        list[Path] | None,
        typer.Option(
            "--ledger",
            help="Another copy of withdrawals.log (e.g. the off-machine one); repeatable.",
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            help="Restore over the embedded SQLite database even if it holds data (it is "
            "kept beside, as reclaim.db.replaced-<time>)."
        ),
    ] = False,
) -> None:
    """Restore the backup in FOLDER into the configured database and data folder (stop
    every Reclaim process first); cases withdrawn since the backup are withdrawn again."""
    try:
        done = backup.restore(load_settings(), folder, ledgers=ledger or [], replace=replace)
    except (backup.BackupError, ValueError, OSError) as error:
        raise fail(f"restore failed: {error}") from None
    sys.stdout.write(f"restored: database at revision {done.revision}, {done.files} files\n")
    if done.withdrawn_again:
        sys.stdout.write(
            "withdrawn again (withdrawn after the backup was made): "
            + ", ".join(done.withdrawn_again)
            + "\n"
        )
