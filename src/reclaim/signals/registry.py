"""The one list of signal types. A new type joins here and inherits the shared tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reclaim.signals.base import HashFormatError, Signal, SignalType, UnknownSignalType
from reclaim.signals.exact import Md5SignalType, Sha256SignalType
from reclaim.signals.pdq import PdqSignalType
from reclaim.signals.vpdq import VpdqSignalType

SIGNAL_TYPES: list[type[SignalType]] = [
    PdqSignalType,
    VpdqSignalType,
    Sha256SignalType,
    Md5SignalType,
]


def _check_unique(types: Iterable[type[SignalType]]) -> dict[str, type[SignalType]]:
    by_name: dict[str, type[SignalType]] = {}
    for signal_type in types:
        if signal_type.name in by_name:
            raise RuntimeError(f"two signal types are named {signal_type.name!r}")
        by_name[signal_type.name] = signal_type
    return by_name


_BY_NAME = _check_unique(SIGNAL_TYPES)


def get_signal_type(name: str) -> type[SignalType]:
    """The registered signal type called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise UnknownSignalType(f"unknown signal type {name!r} (known: {known})") from None


def signal_from_json(data: Mapping[str, Any]) -> Signal:
    """A signal in its JSON form (``{"type": ..., ...}``), validated by its type."""
    if not isinstance(data, Mapping):
        raise HashFormatError("a signal must be a JSON object")
    name = data.get("type")
    if not isinstance(name, str):
        raise HashFormatError('a signal needs a "type"')
    return get_signal_type(name).from_json(data)


def parse_signal_names(text: str) -> tuple[type[SignalType], ...]:
    """Signal types from a comma-separated list such as ``"pdq,sha256"``."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UnknownSignalType("no signal type named")
    return tuple(dict.fromkeys(get_signal_type(name) for name in names))
