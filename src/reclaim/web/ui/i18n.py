"""The staff app's templates and catalog (the languages themselves: :mod:`reclaim.web.i18n`)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from babel.support import Translations

from reclaim.i18n import load_catalog
from reclaim.web.i18n import LANGUAGES, build_environment

HERE = Path(__file__).parent
LOCALES = HERE / "locale"
TEMPLATES = HERE / "templates"
DOMAIN = "staff"


@lru_cache(maxsize=len(LANGUAGES))
def environment(code: str) -> jinja2.Environment:
    env = build_environment(TEMPLATES, LOCALES, DOMAIN, code)
    env.filters["when"] = _when
    return env


@lru_cache(maxsize=len(LANGUAGES))
def translations(code: str) -> Translations:
    """The catalog, for text made in Python (chart titles)."""
    return load_catalog(LOCALES, code, DOMAIN)


def _when(moment: datetime | None, zone: str = "Asia/Seoul") -> str:
    """A moment as the desk reads it: its own time zone, to the minute."""
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
