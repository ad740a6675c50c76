"""Signal types (pdq, vpdq, sha256, md5): one interface, one registry list."""

from reclaim.signals.base import HashFormatError, Signal, SignalType, UnknownSignalType
from reclaim.signals.filehash import FileFailure, FileHashes, FileResult, HashRequest, hash_file
from reclaim.signals.pdq import PDQ_THRESHOLD, PdqSignal, PdqSignalType, pdq_from_rgb
from reclaim.signals.registry import (
    SIGNAL_TYPES,
    get_signal_type,
    parse_signal_names,
    signal_from_json,
)
from reclaim.signals.source import HashOptions, MediaSource
from reclaim.signals.vpdq import (
    REFERENCE_RULE,
    VpdqFrame,
    VpdqMatch,
    VpdqReferenceRule,
    VpdqSignal,
    VpdqSignalType,
)

__all__ = [
    "PDQ_THRESHOLD",
    "REFERENCE_RULE",
    "SIGNAL_TYPES",
    "FileFailure",
    "FileHashes",
    "FileResult",
    "HashFormatError",
    "HashOptions",
    "HashRequest",
    "MediaSource",
    "PdqSignal",
    "PdqSignalType",
    "Signal",
    "SignalType",
    "UnknownSignalType",
    "VpdqFrame",
    "VpdqMatch",
    "VpdqReferenceRule",
    "VpdqSignal",
    "VpdqSignalType",
    "get_signal_type",
    "hash_file",
    "parse_signal_names",
    "pdq_from_rgb",
    "signal_from_json",
]
