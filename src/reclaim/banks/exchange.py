"""Hash list formats people already exchange, in and out of banks.

- ``jsonl``: Reclaim's own, one item per line: ``{"label", "signals": [...]}`` (export
  adds ``id``, ``verified``, ``source``, ``added``).
- ``csv``: a header with ``signal_type,signal_value`` (and optionally ``label``), as
  ThreatExchange / HMA tooling writes; python-threatexchange's names are understood
  (``video_md5`` is md5, ``video_sha256`` is sha256).
- ``pytx``: python-threatexchange's local file format, ``<signal_type> <value>`` per line.
- ``stopncii``: one bare hash per line; 64 hex digits is PDQ, 32 is MD5.

Import is all or nothing: a file with any bad row is refused whole, and every bad row is
reported with its line number, so that a half-imported list never goes unnoticed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reclaim.banks.models import BankItem
from reclaim.banks.service import NewItem, item_signals
from reclaim.signals.base import HashFormatError, Signal, UnknownSignalType
from reclaim.signals.registry import signal_from_json
from reclaim.signals.vpdq import VpdqSignal

ALIASES = {
    "video_md5": "md5",
    "photo_md5": "md5",
    "video_sha256": "sha256",
    "photo_sha256": "sha256",
}
MAX_ROWS = 1_000_000


class ExchangeFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    PYTX = "pytx"
    STOPNCII = "stopncii"


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str


class ImportRefused(ValueError):
    """The file has bad rows; nothing was imported."""

    def __init__(self, rows: list[BadRow]) -> None:
        self.rows = rows
        shown = "; ".join(f"line {r.line}: {r.reason}" for r in rows[:20])
        more = f" (and {len(rows) - 20} more)" if len(rows) > 20 else ""
        super().__init__(f"import refused, {len(rows)} bad row(s), nothing imported: {shown}{more}")


def parse_items(text: str, fmt: ExchangeFormat, *, source: str) -> list[NewItem]:
    """The items in an exchange file; raises :class:`ImportRefused` listing bad rows."""
    items: list[NewItem] = []
    bad: list[BadRow] = []
    for line, row in _rows(text, fmt):
        if line > MAX_ROWS:
            bad.append(BadRow(line, f"more than {MAX_ROWS:,} rows"))
            break
        try:
            items.append(_item(row, fmt, source=source, line=line))
        except (HashFormatError, UnknownSignalType, ValueError, TypeError, KeyError) as exc:
            bad.append(BadRow(line, str(exc).strip("'\"")))
    if bad:
        raise ImportRefused(bad)
    if not items:
        raise ImportRefused([BadRow(0, "the file holds no hashes")])
    return items


def _rows(text: str, fmt: ExchangeFormat) -> Iterator[tuple[int, Any]]:
    if fmt is ExchangeFormat.CSV:
        reader = csv.DictReader(io.StringIO(text))
        fields = set(reader.fieldnames or [])
        if not {"signal_type", "signal_value"} <= fields:
            raise ImportRefused([BadRow(1, "CSV header must name signal_type and signal_value")])
        for row in reader:
            yield reader.line_num, row
        return
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            yield number, raw.strip()


def _item(row: Any, fmt: ExchangeFormat, *, source: str, line: int) -> NewItem:
    label = f"{source}:{line}"
    if fmt is ExchangeFormat.JSONL:
        data = json.loads(row)
        if not isinstance(data, dict) or not isinstance(data.get("signals"), list):
            raise ValueError('each line must be an object with a "signals" list')
        signals = [signal_from_json(s) for s in data["signals"]]
        if not signals:
            raise ValueError("an item needs at least one signal")
        return NewItem(signals, str(data.get("label") or label), source)
    if fmt is ExchangeFormat.CSV:
        signal = _typed(row["signal_type"], row["signal_value"])
        return NewItem([signal], (row.get("label") or "").strip() or label, source)
    if fmt is ExchangeFormat.PYTX:
        kind, _, value = row.partition(" ")
        return NewItem([_typed(kind, value)], label, source)
    kind = {64: "pdq", 32: "md5"}.get(len(row))
    if kind is None:
        raise HashFormatError(
            f"a bare hash must be 64 (PDQ) or 32 (MD5) hex digits, not {len(row)}"
        )
    return NewItem([_typed(kind, row)], label, source)


def _typed(kind: str | None, value: str | None) -> Signal:
    name = ALIASES.get((kind or "").strip().lower(), (kind or "").strip().lower())
    text = (value or "").strip()
    if name == "vpdq":  # pytx serialises vPDQ as a JSON list of "hex,quality,timestamp"
        lines = json.loads(text)
        if not isinstance(lines, list):
            raise HashFormatError("a vpdq value must be a JSON list of frames")
        return VpdqSignal.from_reference_text("\n".join(str(x) for x in lines))
    return signal_from_json({"type": name, "value": text})


def export_lines(items: Iterable[BankItem], fmt: ExchangeFormat) -> Iterator[str]:
    """Lines of an export file (without newlines)."""
    if fmt is ExchangeFormat.CSV:
        yield "signal_type,signal_value,item_id,label"
    for item in items:
        signals = item_signals(item)
        if fmt is ExchangeFormat.JSONL:
            yield json.dumps(
                {
                    "id": item.public_id,
                    "label": item.label,
                    "verified": item.verified,
                    "source": item.source,
                    "added": item.added.isoformat(),
                    "signals": [s.to_json() for s in signals],
                },
                ensure_ascii=False,
            )
        elif fmt is ExchangeFormat.CSV:
            for signal in signals:
                out = io.StringIO()
                csv.writer(out, lineterminator="").writerow(
                    [signal.type, _flat(signal), item.public_id, item.label]
                )
                yield out.getvalue()
        else:
            for signal in signals:
                prefix = "" if fmt is ExchangeFormat.STOPNCII else f"{signal.type} "
                if fmt is ExchangeFormat.STOPNCII and signal.type not in ("pdq", "md5"):
                    continue
                yield f"{prefix}{_flat(signal)}"


def _flat(signal: Signal) -> str:
    if isinstance(signal, VpdqSignal):
        return json.dumps([f"{f.value},{f.quality},{f.ts:.3f}" for f in signal.frames])
    return str(signal.to_json()["value"])
