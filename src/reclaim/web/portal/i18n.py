"""The portal's languages: Korean and English, Korean whenever the browser asks for it.

Her choice (the language links) is kept in a cookie; otherwise the ``Accept-Language``
header decides: Korean if it names Korean at all, else English.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2
from babel.support import Translations

from reclaim.i18n import load_catalog

LANGUAGES = ("ko", "en")
HERE = Path(__file__).parent
LOCALES = HERE / "locale"
TEMPLATES = HERE / "templates"
DOMAIN = "portal"
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


@lru_cache(maxsize=len(LANGUAGES))
def translations(code: str) -> Translations:
    return load_catalog(LOCALES, code, DOMAIN)


@lru_cache(maxsize=len(LANGUAGES))
def environment(code: str) -> jinja2.Environment:
    """The templates in ``code``: autoescaped, strict about missing variables."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(code), newstyle=True)  # type: ignore[attr-defined]
    return env
