"""``reclaim keys`` (the master key and signing keys) and ``reclaim log`` (custody log)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from reclaim.cases import service as cases
from reclaim.cli.app import JsonOption, app, fail, load_settings
from reclaim.cli.banks import OrgOption, org_session
from reclaim.config import Settings
from reclaim.evidence import custody
from reclaim.evidence.keys import NoSigningKey, create_key, org_keys
from reclaim.store.envelope import KeyProblem, MasterKey

evidence_app = typer.Typer(
    help="Evidence: capture pages, list what was kept.", no_args_is_help=True
)
app.add_typer(evidence_app, name="evidence")
keys_app = typer.Typer(
    help="The master key and each organisation's signing keys.", no_args_is_help=True
)
log_app = typer.Typer(help="The custody log of evidence events.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="log")


def master_key(settings: Settings, *, create: bool = False) -> MasterKey:
    """The master key; with ``create``, made first when there is none."""
    path = settings.resolved_master_key_file
    try:
        if create and not path.exists():
            sys.stderr.write(
                f"reclaim: made a new master key at {path}; keep a copy of it somewhere safe "
                "and offline\n"
            )
            return MasterKey.create(path)
        return MasterKey.load(path)
    except KeyProblem as error:
        raise fail(str(error)) from None


@keys_app.command("init")
def keys_init(org: OrgOption = None) -> None:
    """Make the master key (if there is none) and the organisation's first signing key
    (if it has none); print the signing key's id."""
    settings = load_settings()
    master = master_key(settings, create=True)
    with org_session(settings, org) as (session, organisation):
        active = [k for k in org_keys(session, org=organisation) if k.retired is None]
        key = active[-1] if active else create_key(session, org=organisation, master=master)
        sys.stdout.write(f"{key.key_id}\t{key.public_key.hex()}\n")


@keys_app.command("rotate")
def keys_rotate(org: OrgOption = None) -> None:
    """Retire the active signing key (it stays, to verify what it signed) and make a new one."""
    settings = load_settings()
    master = master_key(settings)
    with org_session(settings, org) as (session, organisation):
        key = create_key(session, org=organisation, master=master)
        sys.stdout.write(f"{key.key_id}\t{key.public_key.hex()}\n")


@keys_app.command("list")
def keys_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """The organisation's signing keys, oldest first (public halves only)."""
    with org_session(load_settings(), org) as (session, organisation):
        for key in org_keys(session, org=organisation):
            row = {
                "key_id": key.key_id,
                "public_key": key.public_key.hex(),
                "created": key.created.isoformat(),
                "retired": key.retired.isoformat() if key.retired else None,
            }
            if as_json:
                sys.stdout.write(json.dumps(row) + "\n")
            else:
                state = f"retired {row['retired']}" if key.retired else "active"
                sys.stdout.write(f"{key.key_id}\t{state}\t{row['public_key']}\n")


@log_app.command("head")
def log_head(org: OrgOption = None) -> None:
    """Sign the custody log's current size and root (a tree head) and print it."""
    settings = load_settings()
    master = master_key(settings)
    with org_session(settings, org) as (session, organisation):
        try:
            head = custody.sign_head(session, org=organisation, master=master)
        except NoSigningKey as error:
            raise fail(str(error)) from None
        sys.stdout.write(
            json.dumps(
                {
                    "log": organisation.slug,
                    "size": head.size,
                    "root": head.root.hex(),
                    "timestamp": head.timestamp.isoformat(),
                    "key_id": head.key_id,
                    "signature": head.signature.hex(),
                }
            )
            + "\n"
        )


@log_app.command("verify")
def log_verify(org: OrgOption = None) -> None:
    """Recompute the whole custody log from its entries and check every stored hash, every
    signed tree head and that heads only ever grew; exit 0 only when all holds."""
    with org_session(load_settings(), org) as (session, organisation):
        report = custody.verify_log(session, org=organisation)
    sys.stdout.write(f"entries checked: {report.entries}\ntree heads checked: {report.heads}\n")
    for problem in report.problems:
        sys.stdout.write(f"PROBLEM: {problem}\n")
    sys.stdout.write("verdict: " + ("the log holds\n" if report.ok else "the log does NOT hold\n"))
    raise typer.Exit(0 if report.ok else 1)


@evidence_app.command("capture")
def evidence_capture(
    url: str,
    case: Annotated[str | None, typer.Option(help="The case the page belongs to.")] = None,
    org: OrgOption = None,
) -> None:
    """Capture a page now with the guarded browser, seal it, store it encrypted, and
    record it in the custody log; exit 1 if the capture failed."""
    from reclaim.cli.banks import actor
    from reclaim.evidence.service import EvidenceDesk
    from reclaim.store.db import open_database

    settings = load_settings()
    master = master_key(settings)
    database = open_database(settings)
    try:
        with org_session(settings, org) as (session, organisation):
            org_id = organisation.id
            case_id = cases.get_case(session, org=organisation, number=case).id if case else None
        with EvidenceDesk(database, settings, master) as desk:
            try:
                kept = desk.capture(org_id=org_id, url=url, actor=actor(), case_id=case_id)
            except NoSigningKey as error:
                raise fail(str(error)) from None
    finally:
        database.dispose()
    if kept.status != "sealed":
        raise fail(f"capture failed: {kept.error}")
    sys.stdout.write(
        f"{kept.id}\tsealed\t{kept.final_url}\tpackage sha256 {kept.package_sha256}\t"
        f"custody log entry {kept.log_position}\n"
    )


@evidence_app.command("list")
def evidence_list(
    case: Annotated[str | None, typer.Option(help="Only this case's evidence.")] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evidence kept (and captures that failed), oldest first."""
    from reclaim.evidence.service import list_evidence

    with org_session(load_settings(), org) as (session, organisation):
        the_case = cases.get_case(session, org=organisation, number=case) if case else None
        for item in list_evidence(session, org=organisation, case=the_case):
            row = {
                "id": item.id,
                "case": case,
                "sighting": item.sighting_id,
                "url": item.url,
                "final_url": item.final_url,
                "status": item.status,
                "error": item.error,
                "captured": item.captured.isoformat(),
                "package_sha256": item.package_sha256,
                "key_id": item.key_id,
                "log_position": item.log_position,
            }
            if as_json:
                sys.stdout.write(json.dumps(row) + "\n")
            else:
                what = item.package_sha256 if item.status == "sealed" else item.error
                sys.stdout.write(f"{item.id}\t{item.status}\t{item.url}\t{what}\n")


@evidence_app.command("annotate")
def evidence_annotate(
    evidence_id: int,
    text: Annotated[str, typer.Option(help="The note (sealed evidence itself never changes).")],
    org: OrgOption = None,
) -> None:
    """Add a signed note to sealed evidence (a new record in the custody log)."""
    from reclaim.cli.banks import actor
    from reclaim.evidence.models import Evidence
    from reclaim.evidence.service import annotate

    settings = load_settings()
    master = master_key(settings)
    with org_session(settings, org) as (session, organisation):
        item = session.get(Evidence, evidence_id)
        if item is None or item.org_id != organisation.id:
            raise fail(f"no evidence {evidence_id}", 2)
        entry = annotate(
            session, org=organisation, evidence=item, actor=actor(), text=text, master=master
        )
        sys.stdout.write(f"{evidence_id}\tannotated\tcustody log entry {entry.position}\n")


@evidence_app.command("hold")
def evidence_hold(
    case: str,
    reason: Annotated[str, typer.Option(help="Why (e.g. the police case number).")],
    org: OrgOption = None,
) -> None:
    """Keep a case's evidence even if the survivor withdraws (an open police case). She is
    told; the custody log records it."""
    from reclaim.cli.banks import actor
    from reclaim.evidence.service import hold_case

    with org_session(load_settings(), org) as (session, organisation):
        the_case = cases.get_case(session, org=organisation, number=case)
        hold_case(session, org=organisation, case=the_case, actor=actor(), reason=reason)
        sys.stdout.write(f"{the_case.number}\theld\n")


@evidence_app.command("release")
def evidence_release(case: str, org: OrgOption = None) -> None:
    """Release a case's legal hold."""
    from reclaim.cli.banks import actor
    from reclaim.evidence.service import release_case

    with org_session(load_settings(), org) as (session, organisation):
        the_case = cases.get_case(session, org=organisation, number=case)
        release_case(session, org=organisation, case=the_case, actor=actor())
        sys.stdout.write(f"{the_case.number}\treleased\n")


@evidence_app.command("export")
def evidence_export(
    case: str,
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) folder to write.")],
    legal_basis: Annotated[
        str | None,
        typer.Option(help="The legal basis, when the survivor has not consented to this."),
    ] = None,
    reveal_screenshots: Annotated[
        bool,
        typer.Option("--reveal-screenshots", help="Unblurred screenshots in the report."),
    ] = False,
    org: OrgOption = None,
) -> None:
    """Write a case's sealed evidence, with proofs and keys, for the police or a lawyer:
    only with the survivor's consent to police evidence or a recorded legal basis."""
    from reclaim.cli.banks import actor
    from reclaim.evidence.export import ExportRefused, export_case
    from reclaim.store.blobs import BlobStore

    settings = load_settings()
    master = master_key(settings)
    with org_session(settings, org) as (session, organisation):
        the_case = cases.get_case(session, org=organisation, number=case)
        try:
            manifest = export_case(
                session,
                org=organisation,
                case=the_case,
                blobs=BlobStore(settings.data_dir / "blobs", master),
                master=master,
                out=out,
                actor=actor(),
                legal_basis=legal_basis,
                reveal_screenshots=reveal_screenshots,
            )
        except (ExportRefused, FileExistsError, LookupError) as error:
            raise fail(str(error)) from None
    sys.stdout.write(f"{len(manifest['packages'])} package(s) written to {out}\n")


@evidence_app.command("verify")
def evidence_verify(path: Path) -> None:
    """Check an export folder offline: signatures, every file's digest, every package's
    seal, every custody-log proof. Exit 0 only when all holds."""
    from reclaim.evidence.export import ExportInvalid, verify_export

    try:
        report = verify_export(path)
    except ExportInvalid as error:
        sys.stdout.write(f"FAILED: {error}\nverdict: the evidence does NOT hold\n")
        raise typer.Exit(1) from None
    except OSError as error:
        raise fail(f"cannot read {path}: {error}", 2) from None
    for line in report.checked:
        sys.stdout.write(f"ok: {line}\n")
    sys.stdout.write("verdict: the evidence holds\n")


__all__ = ["evidence_app", "keys_app", "log_app", "master_key"]
