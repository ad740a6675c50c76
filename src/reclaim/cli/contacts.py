"""``reclaim contacts``: the contact directory (import, list, add, delete, seed, discover)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from reclaim.cli.app import JsonOption, app, fail, load_settings
from reclaim.cli.banks import OrgOption, org_session
from reclaim.takedown import directory
from reclaim.takedown.models import Contact

contacts_app = typer.Typer(
    help="The contact directory: whom each channel asks, per site, provider or authority.",
    no_args_is_help=True,
)
app.add_typer(contacts_app, name="contacts")


def _row(contact: Contact) -> dict[str, object]:
    return {
        "domain": contact.domain,
        "channel": contact.channel,
        "email": contact.email,
        "form_url": contact.form_url,
        "languages": contact.languages,
        "networks": contact.networks,
        "notes": contact.notes,
        "origin": contact.origin,
        "updated": contact.updated.isoformat() if contact.updated else None,
    }


def _line(contact: Contact) -> str:
    return "\t".join(
        (
            contact.domain,
            contact.channel,
            contact.email or "-",
            contact.form_url or "-",
            contact.languages,
            contact.origin,
        )
    )


@contacts_app.command("import")
def contacts_import(file: Path, org: OrgOption = None, as_json: JsonOption = False) -> None:
    """Import a CSV file (domain,channel,email,form_url,languages,networks,notes): good
    rows are stored, broken rows listed by line; exit 1 if any row was broken."""
    try:
        if file.stat().st_size > directory.MAX_CSV_BYTES:
            raise fail(f"{file} is larger than {directory.MAX_CSV_BYTES // 2**20} MB")
        text = directory.decode_csv(file.read_bytes())
    except OSError as error:
        raise fail(f"cannot read {file}: {error}") from None
    except directory.ImportRefused as error:
        raise fail(f"{file}: {error}") from None
    with org_session(load_settings(), org) as (session, organisation):
        report = directory.import_csv(session, org=organisation, text=text)
    if as_json:
        data = {
            "added": report.added,
            "updated": report.updated,
            "errors": [{"line": n, "message": m} for n, m in report.errors],
            "duplicates": [{"line": n, "message": m} for n, m in report.duplicates],
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(f"added {report.added}\nupdated {report.updated}\n")
        sys.stdout.write(f"errors {len(report.errors)}\nduplicates {len(report.duplicates)}\n")
        for number, message in report.errors:
            sys.stdout.write(f"line {number}: error: {message}\n")
        for number, message in report.duplicates:
            sys.stdout.write(f"line {number}: duplicate: {message}\n")
    raise typer.Exit(1 if report.errors else 0)


@contacts_app.command("list")
def contacts_list(
    channel: Annotated[str | None, typer.Option(help="Only this channel's entries.")] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """The directory's entries, by channel and domain."""
    with org_session(load_settings(), org) as (session, organisation):
        try:
            found = directory.list_contacts(session, org=organisation, channel=channel)
        except ValueError as error:
            raise fail(str(error), 2) from None
        for contact in found:
            line = json.dumps(_row(contact), ensure_ascii=False) if as_json else _line(contact)
            sys.stdout.write(line + "\n")


@contacts_app.command("add")
def contacts_add(
    domain: str,
    channel: str,
    email: Annotated[str | None, typer.Option(help="The address notices are mailed to.")] = None,
    form_url: Annotated[str | None, typer.Option(help="A web form a person fills in.")] = None,
    languages: Annotated[str, typer.Option(help="Languages read, preferred first.")] = "en",
    networks: Annotated[str, typer.Option(help="CIDRs of a hosting provider.")] = "",
    notes: Annotated[str, typer.Option(help="Anything a person should know.")] = "",
    org: OrgOption = None,
) -> None:
    """Add an entry, or replace the one for this domain and channel."""
    with org_session(load_settings(), org) as (session, organisation):
        existing = None
        try:
            existing = directory.get_contact(
                session, org=organisation, domain=domain, channel=channel
            )
            contact = directory.set_contact(
                session,
                org=organisation,
                domain=domain,
                channel=channel,
                email=email,
                form_url=form_url,
                languages=languages,
                networks=networks,
                notes=notes,
            )
        except directory.InvalidContact as error:
            raise fail(str(error), 2) from None
        sys.stdout.write(f"{'updated' if existing else 'added'}\t{_line(contact)}\n")


@contacts_app.command("delete")
def contacts_delete(domain: str, channel: str, org: OrgOption = None) -> None:
    """Remove the entry for this domain and channel."""
    with org_session(load_settings(), org) as (session, organisation):
        try:
            directory.delete_contact(session, org=organisation, domain=domain, channel=channel)
        except (directory.InvalidContact, directory.ContactNotFound) as error:
            raise fail(str(error), 2) from None
    sys.stdout.write(f"deleted\t{domain}\t{channel}\n")


@contacts_app.command("seed")
def contacts_seed(org: OrgOption = None) -> None:
    """Add the authorities Reclaim ships (the KCSC, search engines, hotlines) that the
    directory lacks; entries already there are left alone. Check them before use."""
    with org_session(load_settings(), org) as (session, organisation):
        added = directory.seed_authorities(session, org=organisation)
    sys.stdout.write(f"seeded {added} entr{'y' if added == 1 else 'ies'}\n")


@contacts_app.command("discover")
def contacts_discover(
    domain: str,
    base_url: Annotated[
        str | None,
        typer.Option(help="Look under this URL instead of https://DOMAIN (a test site)."),
    ] = None,
    org: OrgOption = None,
) -> None:
    """Read DOMAIN's security.txt through the guarded fetcher and store its contacts as
    the site's abuse contact (never over an entry a person made)."""
    from reclaim.monitor.fetch import Fetcher, FetchLimits
    from reclaim.takedown import discovery

    settings = load_settings()
    limits = FetchLimits.from_settings(settings)
    limits = dataclasses.replace(limits, page_bytes=discovery.MAX_SECURITY_TXT)
    try:
        with Fetcher(limits) as fetcher:
            result = discovery.find_security_txt(fetcher, domain, base_url=base_url)
    except directory.InvalidContact as error:
        raise fail(str(error), 2) from None
    for item in result.found:
        sys.stdout.write(f"found\t{item.email or item.form_url}\t{item.languages}\t{item.source}\n")
    for problem in result.problems:
        sys.stdout.write(f"note\t{problem}\n")
    if not result.found:
        try:
            guess = discovery.conventional_abuse(result.domain)
        except directory.InvalidContact:
            guess = None
        if guess:
            sys.stdout.write(f"nothing stored; by convention: {guess} (unchecked)\n")
        else:
            sys.stdout.write("nothing stored\n")
        return
    with org_session(settings, org) as (session, organisation):
        stored = discovery.remember(
            session, org=organisation, domain=result.domain, found=result.found
        )
        existing = directory.get_contact(
            session, org=organisation, domain=result.domain, channel="host_abuse"
        )
        if stored:
            sys.stdout.write(f"stored\t{_line(stored[0])}\n")
        elif existing is not None:
            sys.stdout.write(f"kept the {existing.origin} entry\t{_line(existing)}\n")


__all__ = ["contacts_app"]
