"""docs/sweep-optical.md stays true: every reason code with the weight the code uses, and
every option."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from reclaim.sweep.optical import GlintOptions
from reclaim.sweep.optical.score import WEIGHTS

DOC = (Path(__file__).resolve().parents[3] / "docs" / "sweep-optical.md").read_text()


@pytest.mark.parametrize("code", sorted(WEIGHTS))
def test_every_reason_is_documented_with_its_weight(code: str) -> None:
    row = re.search(rf"^\| `{code}` \| ([^|]+) \|", DOC, re.MULTILINE)
    assert row is not None, f"{code} is missing from docs/sweep-optical.md"
    assert float(row.group(1).strip().replace("−", "-")) == pytest.approx(WEIGHTS[code]), code


@pytest.mark.parametrize("option", [f.name for f in dataclasses.fields(GlintOptions)])
def test_every_option_is_documented(option: str) -> None:
    assert re.search(rf"^\| `{option}` \|", DOC, re.MULTILINE), option
