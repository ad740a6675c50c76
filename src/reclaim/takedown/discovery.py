"""Finding a site's abuse contact when the directory has none.

- The site's own ``security.txt`` (RFC 9116), fetched through the monitor's guarded
  fetcher: its ``Contact`` lines in the site's order of preference, its
  ``Preferred-Languages``; an expired file, or one that names other URLs as its
  ``Canonical`` place (a copy from another site), gives nothing.
- ``abuse@`` the registrable domain (RFC 2142), found with the public suffix list.

What is found can be remembered in the directory, never over an entry a person made.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.orm import Session

from reclaim.cases.models import Organisation
from reclaim.monitor.errors import FetchFailed
from reclaim.monitor.fetch import Fetcher, Kind
from reclaim.takedown.directory import (
    InvalidContact,
    get_contact,
    normalise_domain,
    normalise_email,
    normalise_form_url,
    parse_languages,
    set_contact,
)
from reclaim.takedown.models import Contact

log = logging.getLogger(__name__)

MAX_SECURITY_TXT = 32 * 1024
MAX_CONTACTS = 50
PUBLIC_SUFFIX_LIST = Path("/usr/share/publicsuffix/public_suffix_list.dat")
PATHS = ("/.well-known/security.txt", "/security.txt")
"""Where security.txt is looked for: the RFC's place, then the legacy top-level path."""
REPLACEABLE = frozenset({"security.txt", "convention"})
"""Origins of entries that discovery may overwrite (never ``manual``, ``csv``, ``seed``)."""

_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----"
_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"


class InvalidSecurityTxt(ValueError):
    """A security.txt that cannot be read (too large, not UTF-8, not text)."""


@dataclass(frozen=True, slots=True)
class SecurityTxt:
    """The fields of a security.txt that Reclaim uses."""

    contacts: tuple[str, ...]
    """``mailto:``, ``https:`` and ``tel:`` URIs, most preferred first."""
    languages: tuple[str, ...]
    """Primary language tags, lower-case."""
    expires: datetime | None
    canonical: tuple[str, ...]
    signed: bool
    """Read from the cleartext of a PGP-signed file (the signature is not checked)."""

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires is not None and self.expires <= (now or datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Discovered:
    """One way to reach a site's abuse desk: an e-mail address or a form URL."""

    email: str | None
    form_url: str | None
    languages: str = "en"
    origin: str = "security.txt"
    source: str = ""
    """The URL it was read from."""


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a look for security.txt found, and why it found nothing where it did not."""

    domain: str
    found: tuple[Discovered, ...]
    problems: tuple[str, ...]


# -- reading security.txt --------------------------------------------------------------


def _cleartext(lines: list[str]) -> list[str]:
    """The signed lines of a PGP cleartext-signed message (RFC 4880 section 7)."""
    body: list[str] = []
    index = 1
    while index < len(lines) and lines[index].strip():  # armor headers (Hash: ...)
        index += 1
    for line in lines[index + 1 :]:
        if line.strip() == _SIGNATURE:
            break
        body.append(line[2:] if line.startswith("- ") else line)
    return body


def _expiry(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _usable_uri(value: str) -> bool:
    scheme = value.partition(":")[0].lower()
    return scheme in ("mailto", "https", "tel") and not any(c.isspace() for c in value)


def parse_security_txt(text: str) -> SecurityTxt:
    """The fields of a security.txt (RFC 9116); comments and unknown fields are skipped,
    a value with a control character is dropped, at most :data:`MAX_CONTACTS` contacts
    are kept, and a text over :data:`MAX_SECURITY_TXT` bytes is refused."""
    if len(text) > MAX_SECURITY_TXT or len(text.encode("utf-8", "replace")) > MAX_SECURITY_TXT:
        raise InvalidSecurityTxt(f"larger than {MAX_SECURITY_TXT} bytes")
    lines = text.removeprefix("\ufeff").splitlines()  # splits on CR, LF and every break
    signed = bool(lines) and lines[0].strip() == _SIGNED
    if signed:
        lines = _cleartext(lines)
    contacts: list[str] = []
    canonical: list[str] = []
    languages: tuple[str, ...] = ()
    expiries: list[datetime] = []
    for line in lines:
        name, colon, raw = line.strip().partition(":")
        value = raw.strip()
        if not colon or name.startswith("#") or not value:
            continue
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            continue
        match name.strip().lower():
            case "contact" if _usable_uri(value) and len(contacts) < MAX_CONTACTS:
                contacts.append(value)
            case "canonical":
                canonical.append(value)
            case "expires":
                when = _expiry(value)
                expiries.extend([when] if when is not None else [])
            case "preferred-languages" if not languages:
                languages = tuple(_languages(value))
    return SecurityTxt(
        contacts=tuple(contacts),
        languages=languages,
        expires=min(expiries, default=None),
        canonical=tuple(canonical),
        signed=signed,
    )


def _languages(value: str) -> list[str]:
    out: list[str] = []
    for tag in value.split(","):
        try:
            out.extend(p for p in parse_languages(tag).split(",") if p not in out)
        except InvalidContact:
            continue
    return out


# -- fetching it -----------------------------------------------------------------------


class _Missing(Exception):
    """No security.txt at this URL (404 or 410): the next place may have one."""


def _fetch_text(fetcher: Fetcher, url: str) -> tuple[str, str]:
    """The text at ``url`` and the URL it finally came from; _Missing, FetchFailed or
    InvalidSecurityTxt when it is not a usable security.txt."""
    fetched = fetcher.get(url, accept={Kind.PAGE})
    if fetched.status in (404, 410):
        raise _Missing(f"{url}: HTTP {fetched.status}")
    if fetched.status != 200:
        raise InvalidSecurityTxt(f"HTTP {fetched.status}")
    mime = fetched.content_type.split(";")[0].strip().lower()
    if mime != "text/plain":
        raise InvalidSecurityTxt(f"served as {mime or 'no content type'}, not text/plain")
    body = fetched.body or b""
    if len(body) > MAX_SECURITY_TXT:
        raise InvalidSecurityTxt(f"larger than {MAX_SECURITY_TXT} bytes")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidSecurityTxt("not UTF-8") from None
    if text.lstrip().startswith("<"):
        raise InvalidSecurityTxt("an HTML page, not a security.txt")
    return text, fetched.final_url


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def _contacts(parsed: SecurityTxt, source: str, problems: list[str]) -> list[Discovered]:
    languages = ",".join(parsed.languages) or "en"
    found: list[Discovered] = []
    for uri in parsed.contacts:
        scheme, _, rest = uri.partition(":")
        try:
            if scheme.lower() == "mailto":
                address = normalise_email(unquote(rest.split("?")[0]))
                item = Discovered(address, None, languages, source=source)
            elif scheme.lower() == "https":
                item = Discovered(None, normalise_form_url(uri), languages, source=source)
            else:
                continue  # a telephone number: notices are written, not phoned
        except InvalidContact as error:
            problems.append(f"{source}: contact {uri[:80]!r} skipped: {error}")
            continue
        if item not in found:
            found.append(item)
    return found


def find_security_txt(
    fetcher: Fetcher, domain: str, *, base_url: str | None = None, now: datetime | None = None
) -> Discovery:
    """Look for ``domain``'s security.txt (at ``base_url`` instead of ``https://domain``
    when given). Network trouble is reported in ``problems``, never raised; only a bad
    domain raises (:class:`InvalidContact`)."""
    name = normalise_domain(domain)
    base = (base_url or f"https://{name}").rstrip("/")
    problems: list[str] = []
    for path in PATHS:
        url = base + path
        try:
            text, final = _fetch_text(fetcher, url)
            parsed = parse_security_txt(text)
        except _Missing as missing:
            problems.append(str(missing))
            continue
        except (FetchFailed, InvalidSecurityTxt) as error:
            problems.append(f"{url}: {error}")
            break
        if parsed.expired(now):
            problems.append(f"{url}: expired on {parsed.expires:%Y-%m-%d %H:%M} UTC; not used")
            break
        if parsed.canonical and not any(
            _same_url(c, u) for c in parsed.canonical for u in (url, final)
        ):
            problems.append(f"{url}: its Canonical names other URLs (a copy?); not used")
            break
        found = _contacts(parsed, final, problems)
        if not found:
            problems.append(f"{url}: no e-mail or https contact")
        log.info("security.txt read", extra={"domain": name, "found": len(found)})
        return Discovery(name, tuple(found), tuple(problems))
    log.info("no usable security.txt", extra={"domain": name, "problems": problems})
    return Discovery(name, (), tuple(problems))


def discover(fetcher: Fetcher, domain: str, *, base_url: str | None = None) -> list[Discovered]:
    """The contacts ``domain``'s security.txt gives (none when it has no usable one; why
    is logged). Raises only :class:`InvalidContact`, for a bad domain."""
    return list(find_security_txt(fetcher, domain, base_url=base_url).found)


# -- abuse@ ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Suffixes:
    rules: frozenset[str]
    wildcards: frozenset[str]
    """``*.ck`` is kept as ``ck``."""
    exceptions: frozenset[str]
    """``!www.ck`` is kept as ``www.ck``."""

    def suffix_labels(self, labels: list[str]) -> int:
        """How many labels at the end of ``labels`` are the public suffix."""
        best = 1  # the implicit rule "*": an unlisted top-level domain is a suffix
        for start in range(len(labels)):
            suffix = ".".join(labels[start:])
            size = len(labels) - start
            if suffix in self.exceptions:
                return size - 1
            if suffix in self.rules or (
                size > 1 and ".".join(labels[start + 1 :]) in self.wildcards
            ):
                best = max(best, size)
        return best


def _punycode(rule: str) -> str:
    return ".".join(
        label if label == "*" else label.encode("idna").decode("ascii").lower()
        for label in rule.split(".")
    )


@functools.lru_cache(maxsize=4)
def _load_suffixes(path: Path) -> _Suffixes | None:
    """The ICANN section of a public suffix list (operators of private suffixes such as
    blogspot.com answer for their subdomains), or None when the file is missing."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    if "// ===BEGIN ICANN DOMAINS===" in lines and "// ===END ICANN DOMAINS===" in lines:
        lines = lines[
            lines.index("// ===BEGIN ICANN DOMAINS===") : lines.index("// ===END ICANN DOMAINS===")
        ]
    rules: set[str] = set()
    wildcards: set[str] = set()
    exceptions: set[str] = set()
    for line in lines:
        words = line.split()
        if not words or words[0].startswith("//"):
            continue
        try:
            rule = _punycode(words[0].lstrip("!"))
        except UnicodeError:
            continue
        if words[0].startswith("!"):
            exceptions.add(rule)
        elif rule.startswith("*."):
            wildcards.add(rule[2:])
        else:
            rules.add(rule)
    return _Suffixes(frozenset(rules), frozenset(wildcards), frozenset(exceptions))


def registrable_domain(domain: str, *, suffix_list: Path = PUBLIC_SUFFIX_LIST) -> str:
    """The domain a registrant holds (``www.shop.co.kr`` is ``shop.co.kr``), by the public
    suffix list (Debian's ``publicsuffix`` package). Without that file, only a leading
    ``www.`` is dropped. InvalidContact for a public suffix itself (``co.kr``)."""
    name = normalise_domain(domain)
    labels = name.split(".")
    suffixes = _load_suffixes(suffix_list)
    if suffixes is None:
        log.warning("no public suffix list", extra={"path": str(suffix_list)})
        return name.removeprefix("www.") if len(labels) > 2 else name
    size = suffixes.suffix_labels(labels)
    if len(labels) <= size:
        raise InvalidContact(f"{name} is a public suffix, not a site's domain")
    return ".".join(labels[-(size + 1) :])


def conventional_abuse(domain: str, *, suffix_list: Path = PUBLIC_SUFFIX_LIST) -> str:
    """``abuse@`` the registrable domain (RFC 2142): a guess, for when nothing better is
    known. Without the public suffix list, a leading ``www.`` is dropped and nothing more."""
    return f"abuse@{registrable_domain(domain, suffix_list=suffix_list)}"


# -- remembering -----------------------------------------------------------------------


def remember(
    session: Session, *, org: Organisation, domain: str, found: Sequence[Discovered]
) -> list[Contact]:
    """Store what was found as ``domain``'s ``host_abuse`` entry (its first e-mail address
    and first form URL; the directory holds one entry per domain and channel). An entry a
    person made (``manual``, ``csv``) or a seeded one is never overwritten: then, and
    when nothing was found, nothing is stored and the list is empty."""
    email = next((item.email for item in found if item.email), None)
    form_url = next((item.form_url for item in found if item.form_url), None)
    if email is None and form_url is None:
        return []
    existing = get_contact(session, org=org, domain=domain, channel="host_abuse")
    if existing is not None and existing.origin not in REPLACEABLE:
        return []
    first = found[0]
    contact = set_contact(
        session,
        org=org,
        domain=domain,
        channel="host_abuse",
        email=email,
        form_url=form_url,
        languages=first.languages,
        notes=f"from {first.source}" if first.source else "",
        origin=first.origin,
    )
    return [contact]
