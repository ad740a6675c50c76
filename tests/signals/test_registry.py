"""One suite over every registered signal type: a new type gets these tests by joining."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from reclaim.demo.media import render_scene
from reclaim.signals import (
    SIGNAL_TYPES,
    HashFormatError,
    HashOptions,
    MediaSource,
    SignalType,
    UnknownSignalType,
    get_signal_type,
    parse_signal_names,
    signal_from_json,
)
from tests.media.generate import write_video


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("registry")
    still = root / "still.png"
    Image.fromarray(render_scene(160, 120, seed=1)).save(still)
    frames = [Image.fromarray(render_scene(80, 60, seed=s)) for s in range(3)]
    animated = root / "animated.webp"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=1000)
    apng = root / "animated.png"
    frames[0].save(apng, save_all=True, append_images=frames[1:], duration=1000)
    return {
        "still": still,
        "animated": animated,
        "apng": apng,
        "video": write_video(root / "video.mp4", seconds=2.0),
    }


def test_names_are_unique_and_resolvable() -> None:
    names = [t.name for t in SIGNAL_TYPES]
    assert len(names) == len(set(names))
    for signal_type in SIGNAL_TYPES:
        assert get_signal_type(signal_type.name) is signal_type
    with pytest.raises(UnknownSignalType, match="known: md5, pdq, sha256, vpdq"):
        get_signal_type("photodna")
    assert parse_signal_names(" PDQ, md5,pdq ") == (get_signal_type("pdq"), get_signal_type("md5"))


@pytest.mark.parametrize("signal_type", SIGNAL_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("kind", ["still", "animated", "apng", "video"])
def test_compute_and_json_round_trip(
    signal_type: type[SignalType], kind: str, sources: dict[str, Path]
) -> None:
    source = MediaSource(sources[kind], HashOptions())
    if not signal_type.applies_to(source):
        assert (signal_type.name, kind) in {("pdq", "video"), ("vpdq", "still")}
        return
    signal = signal_type.compute(source)
    assert signal.type == signal_type.name
    data = signal.to_json()
    assert data["type"] == signal_type.name
    assert signal_from_json(data) == signal
    assert signal_type.compute(source) == signal  # deterministic


MALFORMED: dict[str, list[Any]] = {
    "pdq": [
        {"value": "ab"},
        {"value": "z" * 64},
        {"value": 12},
        {"value": "0" * 64, "quality": 101},
        {"value": "0" * 64, "quality": "100"},
        {"value": "0" * 64, "quality": True},
        {"value": "0" * 64, "dihedral": ["0" * 64] * 7},
        {"value": "0" * 64, "dihedral": ["1" * 64] * 8},
        {},
    ],
    "vpdq": [
        {"frames": []},
        {"frames": "0" * 64},
        {},
        {"frames": [{"ts": 0, "quality": 50}]},
        {"frames": [{"ts": -1, "quality": 50, "value": "0" * 64}]},
        {"frames": [{"ts": float("nan"), "quality": 50, "value": "0" * 64}]},
        {"frames": [{"ts": "1", "quality": 50, "value": "0" * 64}]},
        {"frames": [{"ts": 0, "quality": 50.5, "value": "0" * 64}]},
        {"frames": [["0" * 64]]},
    ],
    "sha256": [{"value": "0" * 63}, {"value": "0" * 65}, {"value": None}, {}],
    "md5": [{"value": "0" * 64}, {"value": "xyz"}, {}],
}


@pytest.mark.parametrize("signal_type", SIGNAL_TYPES, ids=lambda t: t.name)
def test_malformed_foreign_hashes_are_refused(signal_type: type[SignalType]) -> None:
    cases = MALFORMED[signal_type.name]  # a new type must list its malformed inputs here
    assert cases
    for case in cases:
        with pytest.raises(HashFormatError):
            signal_from_json({"type": signal_type.name, **case})


def test_signal_from_json_needs_a_known_type() -> None:
    with pytest.raises(HashFormatError):
        signal_from_json({"value": "0" * 64})
    with pytest.raises(HashFormatError):
        signal_from_json(["pdq"])  # type: ignore[arg-type]
    with pytest.raises(UnknownSignalType):
        signal_from_json({"type": "tmk", "value": "0"})
