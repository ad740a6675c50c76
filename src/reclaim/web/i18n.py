"""Languages of the web pages: Korean and English, Korean whenever the browser asks for it.

A person's choice (the language links) is kept in a cookie; otherwise the
``Accept-Language`` header decides: Korean if it names Korean at all, else English. The
portal and the staff app each keep their own templates and catalog.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from reclaim.i18n import load_catalog

LANGUAGES = ("ko", "en")
COOKIE = "reclaim_lang"


def language(cookie: str | None, accept: str | None) -> str:
    """The language to answer in."""
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept or "").split(",")[:20]:
        tag = part.split(";")[0].strip().lower()
        if tag == "ko" or tag.startswith("ko-"):
            return "ko"
    return "en"


def build_environment(templates: Path, locales: Path, domain: str, code: str) -> jinja2.Environment:
    """The templates under ``templates`` in ``code``: autoescaped, strict about missing
    variables, translated by the ``domain`` catalog."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    translations = load_catalog(locales, code, domain)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    return env
