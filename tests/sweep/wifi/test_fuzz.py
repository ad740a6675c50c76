"""Hostile and broken captures: many mutations of a small valid pcap and pcapng (fixed
seed), random bytes behind a valid magic, wrong magics. Each gives a report (with a note
when it was cut short) or a CaptureError -- never another exception, a hang or a blow-up."""

from __future__ import annotations

import struct
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from reclaim.sweep.report import SweepReport
from reclaim.sweep.wifi import CaptureError, CaptureLimits, analyse
from reclaim.sweep.wifi.capture import PCAP_MAGICS, PCAPNG_MAGIC
from tests.sweep.wifi.conftest import Written

MUTATIONS = 250
"""Per format; the whole module stays under ~15 s."""
LIMITS = CaptureLimits(max_seconds=10.0)

Mutation = Callable[[np.random.Generator, bytes], bytes]


def _truncate(rng: np.random.Generator, data: bytes) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def _flip(rng: np.random.Generator, data: bytes) -> bytes:
    out = bytearray(data)
    for at in rng.integers(0, len(out), int(rng.integers(1, 40))):
        out[at] ^= int(rng.integers(1, 256))
    return bytes(out)


def _huge_length(rng: np.random.Generator, data: bytes) -> bytes:
    """A length field anywhere (aligned, as record and block lengths are) made enormous."""
    out = bytearray(data)
    at = int(rng.integers(0, len(out) // 4 - 1)) * 4
    value = int(rng.choice([0xFFFF_FFFF, 0x7FFF_FFF0, 0x0100_0000, 0x10000, 11, 0]))
    struct.pack_into("<I", out, at, value)
    return bytes(out)


def _splice(rng: np.random.Generator, data: bytes) -> bytes:
    at = int(rng.integers(0, len(data)))
    junk = rng.bytes(int(rng.integers(1, 3000)))
    return data[:at] + junk + data[at + int(rng.integers(0, 3000)) :]


def _header_then_noise(rng: np.random.Generator, data: bytes) -> bytes:
    keep = 24 if data[:4] in PCAP_MAGICS else 28 + 32
    return data[:keep] + rng.bytes(int(rng.integers(0, 20_000)))


MUTATORS: list[Mutation] = [_truncate, _flip, _huge_length, _splice, _header_then_noise]


def _outcome(path: Path) -> str:
    start = time.monotonic()
    try:
        report = analyse(path, limits=LIMITS)
    except CaptureError as error:
        outcome = error.kind
    else:
        assert isinstance(report, SweepReport)
        report.to_json(), report.to_html()
        outcome = "report" if report.parameters["complete"] else "report_with_note"
        if not report.parameters["complete"]:
            assert any("damaged" in note for note in report.notes)
    assert time.monotonic() - start < 5.0, path
    return outcome


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_mutated_captures(small: Written, tmp_path: Path, fmt: str) -> None:
    seed = (small.pcap if fmt == "pcap" else small.pcapng).read_bytes()
    rng = np.random.default_rng(20240501 + len(fmt))
    outcomes: Counter[str] = Counter()
    path = tmp_path / f"mutant.{fmt}"
    for i in range(MUTATIONS):
        mutate = MUTATORS[i % len(MUTATORS)]
        path.write_bytes(mutate(rng, seed))
        outcomes[_outcome(path)] += 1
    # The corpus exercises both ends: readable-with-a-note and refused outright.
    assert outcomes["report_with_note"] > 0
    assert sum(n for k, n in outcomes.items() if not k.startswith("report")) > 0


@pytest.mark.parametrize(
    "magic", [*PCAP_MAGICS, PCAPNG_MAGIC, b"\x00\x00\x00\x00", b"\x1f\x8b\x08\x00"]
)
def test_random_bytes_behind_a_magic(tmp_path: Path, magic: bytes) -> None:
    rng = np.random.default_rng(int.from_bytes(magic, "big") % 2**32)
    path = tmp_path / "random.bin"
    for size in (0, 3, 20, 24, 100, 5000, 200_000):
        path.write_bytes(magic + rng.bytes(size))
        _outcome(path)
