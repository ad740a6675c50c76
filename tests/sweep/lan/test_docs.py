"""docs/sweep-lan.md stays true: every reason code and every option is in it, with the
weight the code actually uses."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from reclaim.sweep.lan import LanOptions
from reclaim.sweep.lan.evidence import CLUES

DOC = (Path(__file__).resolve().parents[3] / "docs" / "sweep-lan.md").read_text()


@pytest.mark.parametrize("code", sorted(CLUES))
def test_every_reason_is_documented_with_its_weight(code: str) -> None:
    row = re.search(rf"^\| `{code}` \| ([^|]+) \|", DOC, re.MULTILINE)
    assert row is not None, f"{code} is missing from docs/sweep-lan.md"
    weight = CLUES[code].weight
    assert float(row.group(1).strip()) == pytest.approx(weight), code


@pytest.mark.parametrize("option", [f.name for f in dataclasses.fields(LanOptions)])
def test_every_option_is_documented(option: str) -> None:
    assert re.search(rf"^\| `{option}` \|", DOC, re.MULTILINE), option
