"""vPDQ against the reference implementation's output on real sample videos."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from reclaim.media.frames import Sampling
from reclaim.signals import (
    REFERENCE_RULE,
    FileHashes,
    HashOptions,
    HashRequest,
    PdqSignalType,
    VpdqSignal,
)
from reclaim.signals.batch import hash_many

pytestmark = pytest.mark.slow


def _videos(reference: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((reference / "vpdq" / "videos").glob("*.mp4"))}


def _reference_signal(reference: Path, name: str) -> VpdqSignal:
    return VpdqSignal.from_reference_text(
        (reference / "vpdq" / "hashes" / f"{name}.txt").read_text()
    )


def _hash_all(videos: dict[str, Path], sampling: Sampling) -> dict[str, VpdqSignal]:
    requests = [HashRequest(str(p), HashOptions(sampling=sampling)) for p in videos.values()]
    out = {}
    for name, result in zip(videos, hash_many(requests, workers=2), strict=True):
        assert isinstance(result, FileHashes), result
        out[name] = next(s for s in result.signals if isinstance(s, VpdqSignal))
    return out


@pytest.fixture(scope="module")
def every_frame(reference: Path) -> dict[str, VpdqSignal]:
    return _hash_all(_videos(reference), Sampling.every_frame())


@pytest.fixture(scope="module")
def one_fps(reference: Path) -> dict[str, VpdqSignal]:
    return _hash_all(_videos(reference), Sampling(fps=1.0))


def test_every_frame_hashes_match_the_reference(reference: Path, every_frame, record_property):
    usable: list[int] = []
    everything: list[int] = []
    per_video = {}
    for name, ours in every_frame.items():
        theirs = _reference_signal(reference, name)
        assert [f.ts for f in ours.frames] == [f.ts for f in theirs.frames], name
        distances = []
        for mine, ref in zip(ours.frames, theirs.frames, strict=True):
            distance = PdqSignalType.distance(mine.value, ref.value)
            everything.append(distance)
            assert abs(mine.quality - ref.quality) <= 2, (name, ref.ts)
            if ref.quality >= 50:  # the frames the match rule uses
                usable.append(distance)
                distances.append(distance)
        per_video[name] = round(sum(distances) / max(1, len(distances)), 2)
    mean_usable = sum(usable) / len(usable)
    mean_all = sum(everything) / len(everything)
    record_property("vpdq_mean_distance_quality50", round(mean_usable, 3))
    record_property("vpdq_mean_distance_all_frames", round(mean_all, 3))
    print(
        f"\nvPDQ vs reference: {len(usable)} frames of quality >= 50, mean {mean_usable:.2f} "
        f"bits; all {len(everything)} frames, mean {mean_all:.2f}; per video {per_video}"
    )
    assert mean_usable <= 2.0
    assert max(per_video.values()) <= 6.0, per_video


def _verdicts(signals: dict[str, VpdqSignal]) -> dict[tuple[str, str], bool]:
    return {
        (a, b): REFERENCE_RULE.compare(signals[a], signals[b]) is not None
        for a, b in itertools.combinations(sorted(signals), 2)
    }


def _whole_seconds(signal: VpdqSignal) -> VpdqSignal:
    return VpdqSignal(tuple(f for f in signal.frames if abs(f.ts - round(f.ts)) < 0.0005))


def test_one_fps_reference_rule_gives_the_reference_verdicts(reference: Path, one_fps) -> None:
    theirs = {name: _whole_seconds(_reference_signal(reference, name)) for name in one_fps}
    for name in one_fps:  # 1 fps takes exactly the frames at whole seconds
        assert [f.ts for f in one_fps[name].frames] == [f.ts for f in theirs[name].frames]
    expected = _verdicts(theirs)
    assert _verdicts(one_fps) == expected
    matched = {pair for pair, verdict in expected.items() if verdict}
    chair = [
        "chair-20-sd-bar",
        "chair-22-sd-grey-bar",
        "chair-22-sd-sepia-bar",
        "chair-22-with-small-logo-bar",
        "chair-orig-22-sd-bar",
    ]
    assert (
        set(itertools.combinations(chair, 2))
        | {("pattern-sd-grey-bar", "pattern-sd-with-small-logo-bar")}
        == matched
    )


def test_match_percents_follow_the_reference_definition() -> None:
    def sig(*values: int, quality: int = 100) -> VpdqSignal:
        return VpdqSignal.from_frames(
            {"ts": float(i), "quality": quality, "value": f"{v:064x}"} for i, v in enumerate(values)
        )

    far = (1 << 200) - 1  # 200 bits away from 0
    query = sig(0, 0, 1, far)  # the duplicate 0 counts once
    target = sig(3)  # 2 bits from 0, 1 bit from 1
    result = REFERENCE_RULE.match_percents(query, target)
    assert result.query_match_percent == pytest.approx(100 * 2 / 3)
    assert result.target_match_percent == 100
    assert REFERENCE_RULE.compare(query, target) is None
    assert REFERENCE_RULE.compare(sig(0, 1), target) is not None
    low = sig(0, quality=49)
    assert REFERENCE_RULE.match_percents(low, low).query_match_percent == 0


def test_reference_text_round_trip(reference: Path) -> None:
    text = (reference / "vpdq" / "hashes" / "doorknob-hd-no-bar.txt").read_text()
    signal = VpdqSignal.from_reference_text(text)
    assert signal.to_reference_text() == text
    assert VpdqSignal.from_reference_text(signal.to_reference_text()) == signal
