"""What travels between an API process and the matcher shards for the anchored search is
checked on arrival: a malformed query or answer is refused, never indexed out of range."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from reclaim.banks.anchored_lookup import (
    MAX_CODES,
    AnchoredCandidate,
    AnchoredFormatError,
    AnchoredQuery,
    BankedPicture,
)
from reclaim.banks.match import Match
from reclaim.matching.verify import PackedGrid


def _query(count: int, frames: bytes | None = None) -> dict[str, str]:
    return {
        "codes": base64.b64encode(bytes(32 * count)).decode(),
        "frames": base64.b64encode(frames if frames is not None else bytes(count)).decode(),
    }


def test_a_query_round_trips() -> None:
    rng = np.random.default_rng(1)
    sent = AnchoredQuery(
        rng.integers(0, 256, (5, 32), dtype=np.uint8),
        np.array([0, 1, 1, 0, 1], np.int8),
        np.array([3, 4, 9, 10, 11]),
    )
    back = AnchoredQuery.from_json(sent.to_json())
    assert np.array_equal(back.codes, sent.codes)
    assert np.array_equal(back.frames, sent.frames)
    assert back.positions.tolist() == [0, 1, 2, 3, 4]  # indices into what was sent


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"codes": "not base64!", "frames": ""}, "anchored regions"),
        ({"frames": ""}, "anchored regions"),
        (_query(2, bytes(3)), "32 bytes of code per frame"),
        (_query(2, b"\x00\x02"), "a frame is 0 or 1"),
        (_query(MAX_CODES + 1), "more than"),
    ],
)
def test_malformed_queries_are_refused(data: dict[str, Any], why: str) -> None:
    with pytest.raises(AnchoredFormatError, match=why):
        AnchoredQuery.from_json(data)


def _candidate(**changes: Any) -> dict[str, Any]:
    banked = BankedPicture(
        np.zeros(32, np.uint8),
        PackedGrid(np.zeros((9, 32), np.uint8), np.full(9, 80, np.int16)),
        (400, 300),
        np.arange(12, dtype=np.float32).reshape(3, 4) / 3,
    )
    item = Match("main", "picture", "abc", "pdq", 0)
    data = AnchoredCandidate(7, 1, [(0, 2, 10), (4, 0, 12)], banked, 31, item).to_json()
    data.update(changes)
    return data


def test_a_candidate_round_trips_exactly() -> None:
    back = AnchoredCandidate.from_json(_candidate(), sent=5)
    assert back.matched == [(0, 2, 10), (4, 0, 12)]
    assert back.banked.anchors.dtype == np.float32
    assert np.array_equal(back.banked.anchors, np.arange(12, dtype=np.float32).reshape(3, 4) / 3)
    assert back.banked.size == (400, 300)
    assert back.item.item_id == "abc"


@pytest.mark.parametrize(
    "changes",
    [
        {"matched": [[5, 0, 1]]},  # past the query's regions
        {"matched": [[0, 3, 1]]},  # past the picture's regions
        {"matched": [[-1, 0, 1]]},
        {"matched": []},
        {"frame": 2},
        {"banked": {**_candidate()["banked"], "whole": "00"}},
        {"banked": {**_candidate()["banked"], "anchors": [[float("nan")] * 4]}},
        {"banked": {**_candidate()["banked"], "size": [0, 10]}},
        {"banked": {**_candidate()["banked"], "quality": [80]}},
        {"item": {"bank": "main"}},
        {"matched": "lots"},
    ],
)
def test_malformed_candidates_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(AnchoredFormatError):
        AnchoredCandidate.from_json(_candidate(**changes), sent=5)
