"""The portal's templates and catalog (the languages themselves: :mod:`reclaim.web.i18n`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from reclaim.web.i18n import COOKIE, LANGUAGES, build_environment, language

HERE = Path(__file__).parent
LOCALES = HERE / "locale"
TEMPLATES = HERE / "templates"
DOMAIN = "portal"

__all__ = ["COOKIE", "LANGUAGES", "environment", "language"]


@lru_cache(maxsize=len(LANGUAGES))
def environment(code: str) -> jinja2.Environment:
    """The portal's templates in ``code``."""
    return build_environment(TEMPLATES, LOCALES, DOMAIN, code)
