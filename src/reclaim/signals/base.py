"""The one interface every signal type implements, and the values signals carry."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from reclaim.media.sniff import MediaKind

if TYPE_CHECKING:
    from reclaim.signals.source import MediaSource

_HEX = re.compile(r"[0-9a-f]*")


class HashFormatError(ValueError):
    """A hash from outside (a file, an API call, a partner's export) is malformed."""


class UnknownSignalType(KeyError):
    """No registered signal type has this name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown signal type"


class Signal(ABC):
    """A computed or received hash. ``type`` is the name of its :class:`SignalType`."""

    @property
    @abstractmethod
    def type(self) -> str:
        """The name of the signal type that produced this value."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``reclaim hash --json`` and the API."""


@dataclass(frozen=True, slots=True)
class ExactSignal(Signal):
    """A cryptographic digest of the file's bytes (``sha256`` or ``md5``)."""

    algorithm: str
    value: str

    @property
    def type(self) -> str:
        return self.algorithm

    def to_json(self) -> dict[str, Any]:
        return {"type": self.algorithm, "value": self.value}


class SignalType(ABC):
    """A kind of hash: its stable name, the media it applies to, how to compute and parse it.

    ``compare`` on each concrete type is the reference definition of a match; indexes
    are optimisations that must agree with it.
    """

    name: ClassVar[str]
    content_kinds: ClassVar[frozenset[MediaKind]]
    default_for: ClassVar[frozenset[MediaKind]]

    @classmethod
    def applies_to(cls, source: MediaSource) -> bool:
        """Whether this signal can be computed for ``source``."""
        return source.kind in cls.content_kinds

    @classmethod
    @abstractmethod
    def compute(cls, source: MediaSource) -> Signal:
        """Hash ``source``; raises :class:`reclaim.media.MediaError` on bad media."""

    @classmethod
    @abstractmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signal:
        """The inverse of :meth:`Signal.to_json` for a hash from outside, fully validated;
        raises :class:`HashFormatError` naming what is wrong."""


def parse_hex(value: str, *, bits: int, name: str) -> str:
    """Normalise a hex digest of ``bits`` bits (lower case, no spaces) or raise."""
    if not isinstance(value, str):
        raise HashFormatError(
            f"{name} hash must be a string of hex digits, not {type(value).__name__}"
        )
    text = value.strip().lower()
    digits = bits // 4
    if len(text) != digits:
        raise HashFormatError(f"{name} hash must be {digits} hex digits, got {len(text)}")
    if not _HEX.fullmatch(text):
        raise HashFormatError(f"{name} hash must contain only hex digits 0-9 a-f")
    return text


def int_field(data: Mapping[str, Any], key: str, *, low: int, high: int, default: int) -> int:
    """An integer field of a JSON object within [low, high]; booleans and strings refused."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HashFormatError(f"{key} must be an integer from {low} to {high}, not {value!r}")
    return value


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex strings of equal length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
