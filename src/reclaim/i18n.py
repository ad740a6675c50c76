"""Message catalogs without a build step: a Babel ``.po`` file compiled in memory.

Korean and English are kept as ``.po`` files in the source tree (readable, reviewable,
edited with ``pybabel extract/update``); at run time each is compiled once into a
``Translations`` object for Jinja2's i18n extension.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations


def load_catalog(locales: Path, language: str, domain: str) -> Translations:
    """The ``domain`` catalog of ``language`` under ``locales`` (``LANG/LC_MESSAGES/``);
    ``OSError`` when it is missing."""
    path = locales / language / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=domain)
