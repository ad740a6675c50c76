"""Generated flashlight sweeps shared by the optical tests (seeds below 100 are the
tests'; tuning used 100-199 and the benchmark uses 20,000 and up)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from reclaim.sweep.optical import analyse_in_process
from reclaim.sweep.optical.scenes import GroundTruth, LensSpec, SceneSpec, write_scene
from reclaim.sweep.report import SweepReport

TWO_LENSES = SceneSpec(
    seed=3,
    seconds=6.0,
    pan=0.45,
    lenses=(
        LensSpec(3.0, brightness=0.95),
        LensSpec(6.0, brightness=0.9, blur=0.6, cut=0.2),
    ),
)
DISTRACTORS_ONLY = SceneSpec(seed=4, seconds=6.0, pan=0.45)


@dataclass
class Sweep:
    path: Path
    truth: GroundTruth
    report: SweepReport


def _sweep(folder: Path, name: str, spec: SceneSpec) -> Sweep:
    path = folder / name
    truth = write_scene(spec, path)
    return Sweep(path, truth, analyse_in_process(path))


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("optical")


@pytest.fixture(scope="session")
def two_lenses(sweep_dir: Path) -> Sweep:
    """Two lenses and every distractor: metal, screens, drops, LEDs, the flash on gloss."""
    return _sweep(sweep_dir, "two-lenses.mp4", TWO_LENSES)


@pytest.fixture(scope="session")
def distractors_only(sweep_dir: Path) -> Sweep:
    return _sweep(sweep_dir, "distractors.mp4", DISTRACTORS_ONLY)


@pytest.fixture(scope="session")
def small_video(sweep_dir: Path) -> Path:
    """A short, small sweep with one lens: the seed for the fuzzed files."""
    path = sweep_dir / "small.mp4"
    write_scene(
        SceneSpec(seed=5, width=192, height=108, seconds=2.0, lenses=(LensSpec(3.0),)), path
    )
    return path
