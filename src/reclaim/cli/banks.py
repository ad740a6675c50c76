"""``reclaim db``, ``reclaim org``, ``reclaim bank`` and ``reclaim match``."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from reclaim.banks import service as banks
from reclaim.banks.exchange import ExchangeFormat, ImportRefused, export_lines, parse_items
from reclaim.banks.matcher import BankMatcher
from reclaim.cases import service as cases
from reclaim.cases.models import Organisation
from reclaim.cli.app import (
    EveryFrameOption,
    FpsOption,
    JsonOption,
    WorkersOption,
    app,
    emit,
    fail,
    failure_line,
    hash_options,
    hash_paths,
    load_settings,
)
from reclaim.config import Settings
from reclaim.signals.filehash import FileFailure, FileHashes, FileResult
from reclaim.store.db import Database, open_database

db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations (each fully separate).", no_args_is_help=True)
bank_app = typer.Typer(help="Banks of hashes.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(bank_app, name="bank")

OrgOption = Annotated[str | None, typer.Option("--org", help="Organisation (default: default).")]


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextlib.contextmanager
def org_session(settings: Settings, org_slug: str | None) -> Iterator[tuple[Session, Organisation]]:
    """A transaction on the configured database (migrated first) and the organisation;
    lookup and naming errors become usage errors (exit 2), limits and refusals exit 1."""
    database = open_database(settings)
    try:
        with database.session() as session:
            yield session, cases.get_org(session, slug=org_slug)
    except (cases.NotFound, cases.InvalidName) as exc:  # a name the user typed
        raise fail(str(exc), 2) from None
    except (banks.LimitExceeded, ImportRefused, ValueError) as exc:
        raise fail(str(exc), 1) from None
    finally:
        database.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to the configured database."""
    database = Database(load_settings().resolved_database_url)
    database.upgrade()
    sys.stdout.write(f"database at revision {database.current_revision()}\n")


@org_app.command("create")
def org_create(slug: str, name: Annotated[str | None, typer.Option()] = None) -> None:
    """Create an organisation."""
    settings = load_settings()
    with org_session(settings, None) as (session, _):
        org = cases.create_org(session, slug=slug, name=name)
        sys.stdout.write(f"{org.slug}\n")


@bank_app.command("create")
def bank_create(
    name: str,
    negative: Annotated[bool, typer.Option("--negative", help="Known-benign content.")] = False,
    threshold: Annotated[int | None, typer.Option(help="PDQ distance (default 31).")] = None,
    org: OrgOption = None,
) -> None:
    """Create a bank."""
    with org_session(load_settings(), org) as (session, organisation):
        bank = banks.create_bank(
            session, org=organisation, name=name, negative=negative, threshold=threshold
        )
        sys.stdout.write(f"{bank.name}\n")


@bank_app.command("list")
def bank_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """List banks with their active item counts."""
    with org_session(load_settings(), org) as (session, organisation):
        for bank, count in banks.list_banks(session, org=organisation):
            row = {
                "name": bank.name,
                "kind": bank.kind.value,
                "threshold": bank.threshold,
                "items": count,
            }
            sys.stdout.write(
                (
                    json.dumps(row)
                    if as_json
                    else f"{bank.name}\t{bank.kind.value}\t{bank.threshold or 31}\t{count} items"
                )
                + "\n"
            )


@bank_app.command("add")
def bank_add(
    bank_name: Annotated[str, typer.Argument(metavar="BANK")],
    paths: Annotated[list[str], typer.Argument(help="Files or directories.")],
    case: Annotated[str | None, typer.Option(help="Case number the files belong to.")] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
    fps: FpsOption = None,
    every_frame: EveryFrameOption = False,
    workers: WorkersOption = None,
) -> None:
    """Hash files and bank each one as a verified item labelled with its path."""
    settings = load_settings()
    options = hash_options(settings, fps=fps, every_frame=every_frame)
    with org_session(settings, org) as (session, organisation):
        bank = banks.get_bank(session, org=organisation, name=bank_name)
        the_case = cases.get_case(session, org=organisation, number=case) if case else None
        total, results = hash_paths(paths, options, settings=settings, workers=workers)
        hashed = list(results)
        new = [
            banks.NewItem(r.signals, r.path, "file") for r in hashed if isinstance(r, FileHashes)
        ]
        stored = iter(
            banks.add_items(
                session,
                bank=bank,
                items=new,
                actor=actor(),
                case=the_case,
                verified=True,
                case_limit=settings.case_item_limit,
            )
            if new
            else []
        )

        def render(result: FileResult) -> tuple[str, bool]:
            if isinstance(result, FileFailure):
                return failure_line(result, as_json)
            item = next(stored)
            data = {"path": result.path, "item_id": item.public_id, "bank": bank.name}
            return (
                json.dumps(data) if as_json else f"{result.path}\tadded\t{item.public_id}"
            ), True

        failed = emit(hashed, total, render)
    raise typer.Exit(1 if failed else 0)


@bank_app.command("import")
def bank_import(
    bank_name: Annotated[str, typer.Argument(metavar="BANK")],
    file: Path,
    fmt: Annotated[
        ExchangeFormat | None, typer.Option("--format", help="Default: by suffix.")
    ] = None,
    org: OrgOption = None,
) -> None:
    """Import a hash list; a file with any bad row is refused whole (rows are listed)."""
    chosen = fmt or {".jsonl": ExchangeFormat.JSONL, ".csv": ExchangeFormat.CSV}.get(
        file.suffix.lower(), ExchangeFormat.PYTX
    )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}", 1) from None
    with org_session(load_settings(), org) as (session, organisation):
        bank = banks.get_bank(session, org=organisation, name=bank_name)
        items = parse_items(text, chosen, source=f"import:{file.name}")
        banks.add_items(session, bank=bank, items=items, actor=actor(), verified=False)
        sys.stdout.write(f"imported {len(items)} items into {bank.name} (private until verified)\n")


@bank_app.command("export")
def bank_export(
    bank_name: Annotated[str, typer.Argument(metavar="BANK")],
    fmt: Annotated[ExchangeFormat, typer.Option("--format")] = ExchangeFormat.JSONL,
    org: OrgOption = None,
) -> None:
    """Write the bank's active items to stdout."""
    with org_session(load_settings(), org) as (session, organisation):
        bank = banks.get_bank(session, org=organisation, name=bank_name)
        for line in export_lines(banks.active_items(session, banks=[bank]), fmt):
            sys.stdout.write(line + "\n")


@bank_app.command("withdraw")
def bank_withdraw(
    bank_name: Annotated[str, typer.Argument(metavar="BANK")],
    item_id: str,
    reason: Annotated[str, typer.Option()] = "",
    delete: Annotated[bool, typer.Option("--delete", help="Also delete the hashes.")] = False,
    org: OrgOption = None,
) -> None:
    """Withdraw an item from matching and sharing at once."""
    with org_session(load_settings(), org) as (session, organisation):
        bank = banks.get_bank(session, org=organisation, name=bank_name)
        banks.withdraw_item(
            session,
            bank=bank,
            public_id=item_id,
            actor=actor(),
            reason=reason,
            delete_hashes=delete,
        )
        sys.stdout.write(f"withdrew {item_id}\n")


@bank_app.command("verify")
def bank_verify(
    bank_name: Annotated[str, typer.Argument(metavar="BANK")],
    item_id: str,
    org: OrgOption = None,
) -> None:
    """Mark an item verified by a person, so that it is shared."""
    with org_session(load_settings(), org) as (session, organisation):
        bank = banks.get_bank(session, org=organisation, name=bank_name)
        banks.verify_item(session, bank=bank, public_id=item_id, actor=actor())
        sys.stdout.write(f"verified {item_id}\n")


@app.command("match")
def match_command(
    paths: Annotated[list[str], typer.Argument(help="Files or directories.")],
    bank_names: Annotated[
        list[str] | None, typer.Option("--bank", help="Only these banks.")
    ] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
    fps: FpsOption = None,
    every_frame: EveryFrameOption = False,
    workers: WorkersOption = None,
) -> None:
    """Hash files and look them up in the banks."""
    settings = load_settings()
    options = hash_options(settings, fps=fps, every_frame=every_frame, query_regions=True)
    with org_session(settings, org) as (session, organisation):
        chosen = (
            [banks.get_bank(session, org=organisation, name=n) for n in bank_names]
            if bank_names
            else banks.org_banks(session, org=organisation)
        )
        matcher = BankMatcher(chosen)
        matcher.add(banks.signal_rows(session, banks=chosen, shared_only=False))
    total, results = hash_paths(paths, options, settings=settings, workers=workers)

    def render(result: FileResult) -> tuple[str, bool]:
        if isinstance(result, FileFailure):
            return failure_line(result, as_json)
        matches = [m.to_json() for m in matcher.match(result.signals)]
        if as_json:
            return json.dumps({"path": result.path, "matches": matches}, ensure_ascii=False), True
        found = ", ".join(
            f"{m['bank']}/{m['item']} ({m['signal']} {m['distance']}"
            + (f", {m['variant']}" if m.get("variant", "original") != "original" else "")
            + ")"
            for m in matches
        )
        return f"{result.path}\t{found or 'no match'}", True

    raise typer.Exit(1 if emit(results, total, render) else 0)
