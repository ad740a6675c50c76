"""PDQ against the C++ reference's own output on the eight dihedral "bridge" photos."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from reclaim.media.sniff import MediaFormat
from reclaim.signals import HashRequest, PdqSignal, PdqSignalType, hash_file
from reclaim.signals.pdq import DIHEDRAL_NAMES

# The reference decoded the JPEGs with another decoder than Pillow; README: 2-8 bits apart.
MAX_DECODER_DRIFT = 8


def _expected(reference: Path) -> dict[str, str]:
    with (reference / "pdq" / "expected.csv").open() as handle:
        return {name: value for value, name in csv.reader(handle)}


def _pdq(path: Path) -> PdqSignal:
    result = hash_file(HashRequest(str(path)))
    assert result.format is MediaFormat.JPEG
    return next(s for s in result.signals if isinstance(s, PdqSignal))


def test_each_photo_within_decoder_drift(reference: Path, record_property) -> None:
    distances = {}
    for name, expected in _expected(reference).items():
        signal = _pdq(reference / "pdq" / name)
        distances[name] = PdqSignalType.distance(signal.value, expected)
        assert signal.quality == 100
    record_property("pdq_reference_distances", distances)
    print("PDQ distance to reference:", distances)
    assert max(distances.values()) <= MAX_DECODER_DRIFT, distances


@pytest.mark.parametrize(
    ("variant", "file"),
    [
        ("rot90", "bridge-2-rotate-90.jpg"),
        ("rot180", "bridge-3-rotate-180.jpg"),
        ("rot270", "bridge-4-rotate-270.jpg"),
        ("flipx", "bridge-5-flipx.jpg"),
        ("flipy", "bridge-6-flipy.jpg"),
        ("flipplus1", "bridge-7-flip-plus-1.jpg"),
        ("flipminus1", "bridge-8-flip-minus-1.jpg"),
    ],
)
def test_dihedral_variants_of_the_original_find_each_transform(
    reference: Path, variant: str, file: str
) -> None:
    original = _pdq(reference / "pdq" / "bridge-1-original.jpg")
    expected = _expected(reference)[file]
    by_name = dict(zip(DIHEDRAL_NAMES, original.dihedral, strict=True))
    distance = PdqSignalType.distance(by_name[variant], expected)
    assert distance <= MAX_DECODER_DRIFT, (variant, distance)
    # ...and the variant is the closest one: the naming of the 8 variants is right.
    closest = min(DIHEDRAL_NAMES, key=lambda n: PdqSignalType.distance(by_name[n], expected))
    assert closest == variant


def test_parse_rejects_malformed_hashes() -> None:
    from reclaim.signals import HashFormatError

    good = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
    assert PdqSignalType.parse(good.upper()).value == good
    for bad in ["", good[:-1], good + "0", "g" * 64, good[:-2] + "  ", "0x" + good[2:]]:
        with pytest.raises(HashFormatError):
            PdqSignalType.parse(bad)
    with pytest.raises(HashFormatError, match="quality"):
        PdqSignalType.parse(good, quality=101)


def test_compare_is_the_threshold_rule() -> None:
    a = "0" * 64
    b31 = f"{(1 << 31) - 1:064x}"
    b32 = f"{(1 << 32) - 1:064x}"
    assert PdqSignalType.compare(a, b31) is not None
    assert PdqSignalType.compare(a, b32) is None
    assert PdqSignalType.compare(a, b32, threshold=32) is not None
