"""Exact signals: SHA-256 and MD5 of the file's bytes (StopNCII exchanges MD5 for video)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from reclaim.media.sniff import MediaKind
from reclaim.signals.base import ExactSignal, SignalType, parse_hex
from reclaim.signals.source import MediaSource

_CHUNK = 1024 * 1024


class _ExactSignalType(SignalType):
    algorithm: ClassVar[str]
    bits: ClassVar[int]
    content_kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    default_for = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})

    @classmethod
    def compute(cls, source: MediaSource) -> ExactSignal:
        digest = hashlib.new(cls.algorithm)
        with source.path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return ExactSignal(cls.name, digest.hexdigest())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExactSignal:
        return cls.parse(data.get("value"))  # type: ignore[arg-type]  # parse checks it

    @classmethod
    def parse(cls, value: str) -> ExactSignal:
        """A digest received from outside, validated."""
        return ExactSignal(cls.name, parse_hex(value, bits=cls.bits, name=cls.name))

    @classmethod
    def compare(cls, a: ExactSignal, b: ExactSignal) -> bool:
        """Exact signals match when the digests are equal."""
        return a.value == b.value


class Sha256SignalType(_ExactSignalType):
    name = "sha256"
    algorithm = "sha256"
    bits = 256


class Md5SignalType(_ExactSignalType):
    name = "md5"
    algorithm = "md5"
    bits = 128
