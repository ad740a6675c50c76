"""Takedown notices: the text a channel receives, rendered from Jinja2 templates in Korean or
English.

One template per channel (``templates/<channel name>.j2``) sets its opening and its request
and includes the shared parts: the list of URLs, one paragraph per legal basis, the notifier
block with the good-faith statement, and the statement that no imagery is attached. The same
template is rendered twice: as plain text (no escaping) and as HTML (autoescaped, so page
titles and URLs from the web appear as text). A notice is rendered completely or not at all:
a missing variable, no URLs, an unknown language or a naive timestamp raise
:class:`NoticeIncomplete`. Messages come from Babel catalogs (``locale/<lang>/LC_MESSAGES/
notices.po``) compiled in memory on first use, so no build step is needed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from babel.support import Translations
from markupsafe import escape

from reclaim.i18n import load_catalog
from reclaim.takedown.channels import Channel, LegalBasis

LANGUAGES: tuple[str, ...] = ("ko", "en")

TEMPLATES = Path(__file__).parent / "templates"
LOCALES = Path(__file__).parent / "locale"
DOMAIN = "notices"
SUBJECT_LIMIT = 200
TITLE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Listed:
    """One URL a notice asks to remove."""

    page_url: str
    media_url: str
    first_seen: datetime
    last_seen: datetime
    media_sha256: str
    page_title: str | None = None
    """Text from the web: hostile (CR/LF, HTML, huge); shown on one line, shortened."""
    evidence_ref: str | None = None
    evidence_sha256: str | None = None
    """The SHA-256 of the sealed evidence package."""


@dataclass(frozen=True, slots=True)
class NoticeContext:
    """Everything a notice says. It has no field for the survivor's name or case number:
    a notice cannot name her."""

    reference: str
    channel: type[Channel]
    language: str
    site: str
    organisation: str
    notifier_email: str | None
    notifier_phone: str | None
    items: Sequence[Listed]
    minor: bool = False
    copyright: bool = False
    reupload: bool = False
    previous_reference: str | None = None
    recipient: str | None = None
    form_url: str | None = None
    drafted: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    """One line, no control characters, at most :data:`SUBJECT_LIMIT` characters."""
    text: str
    html: str


class NoticeIncomplete(ValueError):
    """A notice that cannot be rendered completely (a template variable missing, no items,
    an unknown language...). Never send a half-filled notice."""


@dataclass(frozen=True, slots=True)
class _Item:
    """A :class:`Listed` made safe to show: one-line fields, UTC times as text."""

    page_url: str
    media_url: str
    first_seen: str
    last_seen: str
    media_sha256: str
    page_title: str | None
    evidence_ref: str | None
    evidence_sha256: str | None


def render_notice(context: NoticeContext) -> Rendered:
    """The subject, plain-text body and HTML body of the notice ``context`` describes."""
    template = f"{context.channel.name}.j2"
    subject = _one_line(_render_template("_subject.j2", context), SUBJECT_LIMIT)
    if not subject:
        raise NoticeIncomplete("the subject came out empty")
    text = _render_template(template, context)
    body = _render_template(template, context, html=True)
    return Rendered(subject=subject, text=text, html=_html_document(subject, body, context))


def legal_text(basis: LegalBasis, language: str, *, minor: bool = False) -> str:
    """The citation paragraph of ``basis`` in ``language`` (plain text), for reuse."""
    _check_language(language)
    env = _environment(language, html=False)
    return _render(env, f"_basis_{basis.value}.j2", {"minor": minor}).strip()


def _render_template(
    name: str,
    context: NoticeContext,
    *,
    html: bool = False,
    loader: jinja2.BaseLoader | None = None,
) -> str:
    """Render template ``name`` for ``context``; ``loader`` replaces the package templates
    (tests render deliberately broken templates through the same machinery)."""
    _check_language(context.language)
    variables = _variables(context)
    if loader is None:
        env = _environment(context.language, html=html)
    else:
        env = _make_environment(context.language, html=html, loader=loader)
    return _render(env, name, variables)


def _render(env: jinja2.Environment, name: str, variables: Mapping[str, Any]) -> str:
    try:
        rendered = env.get_template(name).render(variables)
    except jinja2.TemplateError as exc:
        raise NoticeIncomplete(f"template {name!r}: {exc}") from exc
    except (KeyError, ValueError, TypeError) as exc:
        # A translation whose %(name)s placeholders do not match the variables given.
        raise NoticeIncomplete(f"template {name!r}: bad message formatting: {exc}") from exc
    return _tidy(rendered)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise NoticeIncomplete(f"no notices in {language!r} (languages: {', '.join(LANGUAGES)})")


def _variables(context: NoticeContext) -> dict[str, Any]:
    """The template variables: every string one line, every time UTC text."""
    if not context.items:
        raise NoticeIncomplete("a notice lists at least one URL")
    for label, value in (
        ("reference", context.reference),
        ("site", context.site),
        ("organisation", context.organisation),
    ):
        if not _one_line(value):
            raise NoticeIncomplete(f"the notice has no {label}")
    if not (context.notifier_email or context.notifier_phone):
        raise NoticeIncomplete("the notice gives no way to contact the notifier")
    channel = context.channel
    bases = channel.legal_bases(copyright=context.copyright, minor=context.minor)
    if LegalBasis.EU_DSA in bases and not context.minor and not context.notifier_email:
        # Art. 16(2)(c): the notice names the notifier's e-mail address (unless it concerns
        # the child sexual abuse offences of Directive 2011/93/EU).
        raise NoticeIncomplete("a notice citing the DSA gives the notifier's e-mail address")
    return {
        "reference": _one_line(context.reference),
        "channel": channel.name,
        "channel_label": channel.label[context.language],
        "language": context.language,
        "site": _one_line(context.site),
        "organisation": _one_line(context.organisation),
        "notifier_email": _optional(context.notifier_email),
        "notifier_phone": _optional(context.notifier_phone),
        "items": [_item(listed) for listed in context.items],
        "bases": [basis.value for basis in bases],
        "minor": context.minor,
        "copyright": context.copyright,
        "reupload": context.reupload,
        "previous_reference": _optional(context.previous_reference),
        "recipient": _optional(context.recipient),
        "form_url": _url(context.form_url) if context.form_url else None,
        "drafted": _utc(context.drafted, "drafted"),
    }


def _item(listed: Listed) -> _Item:
    for label, value in (
        ("page URL", listed.page_url),
        ("media URL", listed.media_url),
        ("media SHA-256", listed.media_sha256),
    ):
        if not value.strip():
            raise NoticeIncomplete(f"a listed item has no {label}")
    return _Item(
        page_url=_url(listed.page_url),
        media_url=_url(listed.media_url),
        first_seen=_utc(listed.first_seen, "first seen"),
        last_seen=_utc(listed.last_seen, "last seen"),
        media_sha256=_one_line(listed.media_sha256),
        page_title=_optional(listed.page_title, TITLE_LIMIT),
        evidence_ref=_optional(listed.evidence_ref),
        evidence_sha256=_optional(listed.evidence_sha256),
    )


def _utc(moment: datetime, label: str) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NoticeIncomplete(f"the {label} time has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_BREAKING = frozenset({"Cc", "Zl", "Zp", "Zs"})
"""Characters shown as a space: controls (CR, LF, TAB...), line and paragraph separators."""
_DROPPED = frozenset({"Cf", "Cs", "Co", "Cn"})
"""Characters dropped: format characters (zero-width, bidirectional overrides), surrogates,
private-use and unassigned code points."""


def _one_line(text: str, limit: int | None = None) -> str:
    """``text`` on one line: breaks and controls become spaces, invisible characters go, runs
    of spaces collapse; cut to ``limit`` characters with an ellipsis."""
    if limit is not None:
        text = text[: limit * 8]  # bound the work on huge input; cleaning only shortens
    cleaned: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category in _BREAKING:
            cleaned.append(" ")
        elif category not in _DROPPED:
            cleaned.append(char)
    line = re.sub(r" {2,}", " ", "".join(cleaned)).strip()
    if limit is not None and len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


def _optional(text: str | None, limit: int | None = None) -> str | None:
    if text is None:
        return None
    return _one_line(text, limit) or None


def _url(url: str) -> str:
    """``url`` with spaces, controls and invisible characters percent-encoded: the address
    stays exact and cannot break a line or hide text."""
    encoded = []
    for char in url.strip():
        category = unicodedata.category(char)
        if category in _BREAKING or category in _DROPPED:
            encoded.append(quote(char, safe="", errors="surrogatepass"))
        else:
            encoded.append(char)
    return "".join(encoded)


def _tidy(rendered: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in rendered.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def _html_document(subject: str, body: str, context: NoticeContext) -> str:
    """``body`` (already escaped by the HTML environment) in a minimal document."""
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(context.language)}">\n'
        '<head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>\n"
        '<body><div style="white-space:pre-wrap;font-family:sans-serif">'
        f"{body}</div></body>\n</html>\n"
    )


@lru_cache(maxsize=len(LANGUAGES))
def _translations(language: str) -> Translations:
    """The ``language`` catalog, compiled in memory from its .po file."""
    try:
        return load_catalog(LOCALES, language, DOMAIN)
    except OSError as exc:
        raise NoticeIncomplete(f"no message catalog for {language!r}: {exc}") from exc


@lru_cache(maxsize=2 * len(LANGUAGES))
def _environment(language: str, *, html: bool) -> jinja2.Environment:
    """One environment per language and output: gettext is installed per environment."""
    return _make_environment(language, html=html, loader=jinja2.FileSystemLoader(TEMPLATES))


def _make_environment(
    language: str, *, html: bool, loader: jinja2.BaseLoader
) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        autoescape=html,  # noqa: S701 - the plain-text body is never HTML; the HTML one escapes
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(_translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env
