"""Names, banners and titles come from devices on someone else's network: clean them before
they reach a report (no control characters, no terminal escapes, bounded length). The HTML
report escapes markup itself; this keeps the text and JSON forms readable too."""

from __future__ import annotations

import unicodedata

MAX_TEXT = 120


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """Printable text of at most ``limit`` characters; bytes are decoded leniently."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    text = str(value)
    kept = []
    for char in text[: limit * 4]:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            kept.append(" ")
        else:
            kept.append(char)
    collapsed = " ".join("".join(kept).split())
    if len(collapsed) > limit:
        collapsed = collapsed[: limit - 1].rstrip() + "…"
    return collapsed


def was_dirty(value: object, limit: int = MAX_TEXT) -> bool:
    """Whether :func:`clean` had to change more than surrounding whitespace."""
    raw = (
        bytes(value).decode("utf-8", "replace")
        if isinstance(value, bytes | bytearray)
        else str(value)
    )
    return clean(raw, limit) != " ".join(raw.split())
