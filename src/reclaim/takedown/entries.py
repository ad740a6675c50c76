"""One entry of the contact directory, checked value by value before it is stored: a
domain in lower-case punycode, an e-mail address without anything that could end a mail
header (CR, LF, control characters), an http(s) form URL, language tags, CIDRs, and a
channel of the registry. :mod:`reclaim.takedown.directory` stores what passes."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from reclaim.takedown import channels

MAX_NOTES = 2000
MAX_NETWORKS = 1000
MAX_URL = 2048
ORIGINS = frozenset({"manual", "csv", "security.txt", "convention", "seed"})
"""Where an entry came from (:attr:`reclaim.takedown.models.Contact.origin`)."""

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class InvalidContact(ValueError):
    """A directory entry, or one of its values, that cannot be stored (the message says why)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One checked directory entry, ready to store."""

    domain: str
    channel: str
    email: str | None
    form_url: str | None
    languages: str
    networks: str
    notes: str
    origin: str


def show(value: str) -> str:
    """``value`` quoted for a message, cut short when long."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


def _refuse_controls(value: str, what: str) -> None:
    """Refuse line breaks, control and direction-changing characters (a CR or LF in a
    value that reaches a mail header would start a header of its own)."""
    for char in value:
        if char in "\r\n\u2028\u2029\x85":
            raise InvalidContact(f"{what} contains a line break: {show(value)}")
        if ord(char) < 32 or ord(char) == 127 or 0x80 <= ord(char) < 0xA0 or char in _BIDI:
            raise InvalidContact(f"{what} contains a control character: {show(value)}")


def normalise_domain(text: str) -> str:
    """``text`` as a domain in lower-case punycode (a leading ``*.`` and a trailing dot
    dropped), or :class:`InvalidContact` saying why it is not one."""
    value = text.strip()
    _refuse_controls(value, "domain")
    if not value:
        raise InvalidContact("the domain is empty")
    if any(c.isspace() for c in value):
        raise InvalidContact(f"a domain has no spaces: {show(value)}")
    for mark, why in (("/", "a path or scheme"), (":", "a port or scheme"), ("@", "a user")):
        if mark in value:
            raise InvalidContact(f"a domain, not a URL, is wanted ({show(value)} has {why})")
    name = value.lower().removesuffix(".").removeprefix("*.")
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
        ascii_name.encode("ascii").decode("idna")  # punycode labels must decode
    except UnicodeError:
        raise InvalidContact(f"not a valid domain: {show(value)}") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidContact(f"not a valid domain: {show(value)}")
    if labels[-1].isdigit():
        raise InvalidContact(f"an IP address is not a domain: {show(value)}")
    if len(labels) < 2:
        raise InvalidContact(f"a site's domain has at least two labels: {show(value)}")
    return ascii_name


def normalise_email(text: str) -> str:
    """``text`` as a plain ``local@domain`` address (domain in punycode), or
    :class:`InvalidContact`: no display names, quoting, spaces or line breaks."""
    value = text.strip()
    _refuse_controls(value, "e-mail address")
    if len(value) > 320:
        raise InvalidContact(f"e-mail address longer than 320 characters: {show(value)}")
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise InvalidContact(f"not an e-mail address: {show(value)}")
    try:
        return f"{local}@{normalise_domain(domain)}"
    except InvalidContact as error:
        raise InvalidContact(f"e-mail address {show(value)}: {error}") from None


def normalise_form_url(text: str) -> str:
    """``text`` as an http(s) URL with its host in punycode, or :class:`InvalidContact`."""
    value = text.strip()
    _refuse_controls(value, "form URL")
    if any(c.isspace() for c in value) or len(value) > MAX_URL:
        raise InvalidContact(f"not a usable form URL: {show(value)}")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidContact(f"not a valid URL: {show(value)}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidContact(f"a form URL must be http(s): {show(value)}")
    if parts.username is not None or parts.password is not None or not parts.hostname:
        raise InvalidContact(f"a form URL needs a host and no user name: {show(value)}")
    netloc = normalise_domain(parts.hostname) + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def parse_languages(text: str) -> str:
    """Comma-separated language tags as their primary subtags, lower-case, in order
    (``ko-KR, en`` is ``ko,en``), or :class:`InvalidContact`."""
    _refuse_controls(text, "languages")
    primaries: list[str] = []
    for raw in text.split(","):
        tag = raw.strip().lower().replace("_", "-")
        if not tag:
            continue
        if not _LANGUAGE.fullmatch(tag):
            raise InvalidContact(f"not a language tag: {show(raw.strip())} (ko, en, ...)")
        primary = tag.split("-")[0]
        if primary not in primaries:
            primaries.append(primary)
    joined = ",".join(primaries)
    if not primaries or len(joined) > 64:
        raise InvalidContact(f"languages must be 1 to 64 characters of tags: {show(text)}")
    return joined


def normalise_networks(text: str) -> str:
    """Comma-separated CIDRs, each normalised (host bits cleared), or InvalidContact."""
    _refuse_controls(text, "networks")
    found: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InvalidContact(f"not a network: {show(item)} (192.0.2.0/24, ...)") from None
        if network.prefixlen == 0:
            raise InvalidContact(f"{network} is every address, not a provider's network")
        if network not in found:
            found.append(network)
    if len(found) > MAX_NETWORKS:
        raise InvalidContact(f"more than {MAX_NETWORKS} networks")
    return ",".join(str(network) for network in found)


def make_entry(
    *,
    domain: str,
    channel: str,
    email: str | None = None,
    form_url: str | None = None,
    languages: str = "en",
    networks: str = "",
    notes: str = "",
    origin: str = "manual",
) -> Entry:
    """A checked entry, or :class:`InvalidContact` naming the first bad value."""
    try:
        kind = channels.channel(channel.strip())
    except channels.UnknownChannel as error:
        raise InvalidContact(str(error)) from None
    if kind.reach is channels.Reach.GIVEN:
        raise InvalidContact(f"channel {kind.name!r} mails an address given for each notice")
    if origin not in ORIGINS:
        raise InvalidContact(f"unknown origin {origin!r} (one of {', '.join(sorted(ORIGINS))})")
    notes = notes.strip()
    _refuse_controls(notes, "notes")
    if len(notes) > MAX_NOTES:
        raise InvalidContact(f"notes longer than {MAX_NOTES} characters")
    email = normalise_email(email) if email and email.strip() else None
    form_url = normalise_form_url(form_url) if form_url and form_url.strip() else None
    if email is None and form_url is None:
        raise InvalidContact(f"channel {kind.name!r} needs an e-mail address or a form URL")
    return Entry(
        domain=normalise_domain(domain),
        channel=kind.name,
        email=email,
        form_url=form_url,
        languages=parse_languages(languages),
        networks=normalise_networks(networks),
        notes=notes,
        origin=origin,
    )
