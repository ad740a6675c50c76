"""The organisation's contact directory: where each channel reaches a site, a hosting
provider or an authority, looked up by domain (the closest parent wins) or by server
address (the most specific network wins).

Every value is checked before it is stored (:mod:`reclaim.takedown.entries`). A CSV
import checks every row the same way and stores the good ones; a broken row is reported
by its line number and stores nothing, so nothing already stored is lost.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.takedown import channels
from reclaim.takedown.entries import (
    ORIGINS,
    Entry,
    InvalidContact,
    make_entry,
    normalise_domain,
    normalise_email,
    normalise_form_url,
    normalise_networks,
    parse_languages,
    show,
)
from reclaim.takedown.models import Contact

__all__ = [
    "COLUMNS",
    "ORIGINS",
    "Contact",
    "ContactNotFound",
    "Entry",
    "ImportRefused",
    "ImportReport",
    "InvalidContact",
    "authority_contacts",
    "decode_csv",
    "delete_contact",
    "find_network_contact",
    "find_site_contact",
    "get_contact",
    "import_csv",
    "list_contacts",
    "make_entry",
    "normalise_domain",
    "normalise_email",
    "normalise_form_url",
    "normalise_networks",
    "parse_csv",
    "parse_languages",
    "seed_authorities",
    "set_contact",
    "store",
]

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 100_000
COLUMNS = ("domain", "channel", "email", "form_url", "languages", "networks", "notes")
"""The CSV columns; ``domain`` and ``channel`` are required, the others optional."""
SEED_NOTE = "seeded; check before use"


class ImportRefused(InvalidContact):
    """A CSV file refused whole: empty, too large, not UTF-8, or with a bad header."""


class ContactNotFound(LookupError):
    """No directory entry for that domain and channel."""


@dataclass
class ImportReport:
    """What a CSV import did; ``errors`` and ``duplicates`` are ``(line, message)``."""

    added: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)


# -- storing ---------------------------------------------------------------------------


def get_contact(
    session: Session, *, org: Organisation, domain: str, channel: str
) -> Contact | None:
    """The entry for exactly this domain and channel, if there is one."""
    return session.scalar(
        select(Contact).where(
            Contact.org_id == org.id,
            Contact.domain == normalise_domain(domain),
            Contact.channel == channel,
        )
    )


def store(session: Session, *, org: Organisation, entry: Entry) -> tuple[Contact, bool]:
    """Insert ``entry`` or update the one for its domain and channel; True if inserted."""
    contact = get_contact(session, org=org, domain=entry.domain, channel=entry.channel)
    created = contact is None
    if contact is None:
        contact = Contact(org_id=org.id, domain=entry.domain, channel=entry.channel)
        session.add(contact)
    contact.email = entry.email
    contact.form_url = entry.form_url
    contact.languages = entry.languages
    contact.networks = entry.networks
    contact.notes = entry.notes
    contact.origin = entry.origin
    session.flush()
    return contact, created


def set_contact(
    session: Session,
    *,
    org: Organisation,
    domain: str,
    channel: str,
    email: str | None = None,
    form_url: str | None = None,
    languages: str = "en",
    networks: str = "",
    notes: str = "",
    origin: str = "manual",
) -> Contact:
    """Check and store one entry (inserted, or the existing one updated)."""
    entry = make_entry(
        domain=domain,
        channel=channel,
        email=email,
        form_url=form_url,
        languages=languages,
        networks=networks,
        notes=notes,
        origin=origin,
    )
    return store(session, org=org, entry=entry)[0]


def delete_contact(session: Session, *, org: Organisation, domain: str, channel: str) -> None:
    """Remove the entry for this domain and channel, or :class:`ContactNotFound`."""
    contact = get_contact(session, org=org, domain=domain, channel=channel)
    if contact is None:
        raise ContactNotFound(f"no {channel} entry for {normalise_domain(domain)}")
    session.delete(contact)
    session.flush()


# -- CSV -------------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    """The text of a CSV file's bytes (UTF-8, a byte-order mark allowed), or ImportRefused."""
    if len(data) > MAX_CSV_BYTES:
        raise ImportRefused(f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRefused(
            f"the file is not UTF-8 (byte {data[error.start]:#04x} at offset {error.start}); "
            "save it as UTF-8 and import it again"
        ) from None


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        first = next(reader)
    except StopIteration:
        raise ImportRefused(
            f"the file is empty; its first row names the columns: {','.join(COLUMNS)}"
        ) from None
    except csv.Error as error:
        raise ImportRefused(f"line 1: {error}") from None
    header = [name.strip().lower() for name in first]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ImportRefused(
            f"unknown column(s) {', '.join(map(show, unknown))} in the first row; "
            f"the columns are {','.join(COLUMNS)}"
        )
    if len(set(header)) != len(header):
        raise ImportRefused("a column is named twice in the first row")
    if "domain" not in header or "channel" not in header:
        raise ImportRefused(
            f"the first row must name the columns ({','.join(COLUMNS)}); "
            "domain and channel are required"
        )
    return header


def _row_entry(header: list[str], row: list[str], origin: str) -> Entry:
    if len(row) != len(header):
        raise InvalidContact(f"{len(row)} fields where the header has {len(header)}")
    cells = dict(zip(header, row, strict=True))
    return make_entry(
        domain=cells["domain"],
        channel=cells["channel"],
        email=cells.get("email"),
        form_url=cells.get("form_url"),
        languages=cells.get("languages", "").strip() or "en",
        networks=cells.get("networks", ""),
        notes=cells.get("notes", ""),
        origin=origin,
    )


def parse_csv(text: str, *, origin: str = "csv") -> tuple[list[Entry], ImportReport]:
    """The good entries of a CSV text and a report of its broken and duplicate rows (the
    first row for a domain and channel is kept); ImportRefused for a file refused whole."""
    if len(text) > MAX_CSV_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_CSV_BYTES:
        raise ImportRefused(f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = _header(reader)
    report = ImportReport()
    entries: list[Entry] = []
    kept: dict[tuple[str, str], int] = {}
    rows = 0
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            report.errors.append((line, str(error)))
            continue
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if rows > MAX_CSV_ROWS:
            raise ImportRefused(f"the file has more than {MAX_CSV_ROWS} rows; split it")
        try:
            entry = _row_entry(header, row, origin)
        except InvalidContact as error:
            report.errors.append((line, str(error)))
            continue
        key = (entry.domain, entry.channel)
        if key in kept:
            message = f"{entry.domain} {entry.channel} is already on line {kept[key]}; skipped"
            report.duplicates.append((line, message))
            continue
        kept[key] = line
        entries.append(entry)
    return entries, report


def import_csv(session: Session, *, org: Organisation, text: str) -> ImportReport:
    """Store the good rows of a CSV text (``domain,channel,email,form_url,languages,
    networks,notes``), updating existing entries; broken rows are reported and skipped."""
    entries, report = parse_csv(text)
    for entry in entries:
        created = store(session, org=org, entry=entry)[1]
        report.added += created
        report.updated += not created
    return report


def seed_authorities(session: Session, *, org: Organisation) -> int:
    """Add the packaged authorities (search engines, the KCSC, hotlines) that the
    directory lacks; an existing entry for the same domain and channel is left alone."""
    text = resources.files("reclaim.takedown").joinpath("data/authorities.csv").read_text("utf-8")
    entries, report = parse_csv(text, origin="seed")
    if report.errors or report.duplicates:
        raise RuntimeError(f"the packaged authorities list is broken: {report}")
    added = 0
    for entry in entries:
        if get_contact(session, org=org, domain=entry.domain, channel=entry.channel) is None:
            notes = f"{SEED_NOTE}. {entry.notes}" if entry.notes else SEED_NOTE
            store(session, org=org, entry=dataclasses.replace(entry, notes=notes))
            added += 1
    return added


# -- lookups ---------------------------------------------------------------------------


def find_site_contact(
    session: Session, *, org: Organisation, channel: str, domain: str
) -> Contact | None:
    """The entry for ``domain`` or the closest parent domain (``a.b.example.com`` finds
    ``example.com``, ``notexample.com`` does not). None for an IP address (a site at a
    bare address has no domain entry: :func:`find_network_contact` names its provider)."""
    name = channels.channel(channel).name
    if _is_address(domain):
        return None
    labels = normalise_domain(domain).split(".")
    suffixes = [".".join(labels[i:]) for i in range(len(labels))]
    found = session.scalars(
        select(Contact).where(
            Contact.org_id == org.id, Contact.channel == name, Contact.domain.in_(suffixes)
        )
    ).all()
    return max(found, key=lambda contact: contact.domain.count("."), default=None)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def _networks(text: str) -> Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    for item in text.split(","):
        try:
            yield ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            continue  # stored values are normalised; a hand-edited row may not be


def find_network_contact(
    session: Session, *, org: Organisation, channel: str, address: str
) -> Contact | None:
    """The entry whose networks hold ``address``; the most specific prefix wins."""
    name = channels.channel(channel).name
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        raise InvalidContact(f"not an IP address: {show(address)}") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    best: Contact | None = None
    best_prefix = -1
    candidates = session.scalars(
        select(Contact)
        .where(Contact.org_id == org.id, Contact.channel == name, Contact.networks != "")
        .order_by(Contact.domain)
    )
    for contact in candidates:
        for network in _networks(contact.networks):
            if network.version == ip.version and ip in network and network.prefixlen > best_prefix:
                best, best_prefix = contact, network.prefixlen
    return best


def authority_contacts(session: Session, *, org: Organisation, channel: str) -> list[Contact]:
    """Every entry of the channel (each search engine, the KCSC, each hotline), by domain."""
    name = channels.channel(channel).name
    query = select(Contact).where(Contact.org_id == org.id, Contact.channel == name)
    return list(session.scalars(query.order_by(Contact.domain)))


def list_contacts(
    session: Session, *, org: Organisation, channel: str | None = None
) -> list[Contact]:
    """The organisation's entries (of one channel, if named), by channel and domain."""
    query = select(Contact).where(Contact.org_id == org.id)
    if channel is not None:
        query = query.where(Contact.channel == channels.channel(channel).name)
    return list(session.scalars(query.order_by(Contact.channel, Contact.domain)))
