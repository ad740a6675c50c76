"""A task module that takes seconds to import, like a decoder library on a loaded machine."""

from __future__ import annotations

import time

IMPORT_SECONDS = 3.0

time.sleep(IMPORT_SECONDS)


def echo(item: str) -> str:
    return item.upper()
