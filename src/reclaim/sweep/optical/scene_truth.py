"""The ground truth written beside a synthetic sweep: where every glint is in every frame."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ObjectTruth:
    ident: str
    kind: str
    diameter: float
    track: list[tuple[int, float, float]] = field(default_factory=list)
    """(frame index, x, y) in video pixels for every frame the glint shows in."""


@dataclass
class GroundTruth:
    width: int
    height: int
    fps: int
    frames: int
    objects: list[ObjectTruth] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[ObjectTruth]:
        return [o for o in self.objects if o.kind == kind]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundTruth:
        objects = [
            ObjectTruth(o["ident"], o["kind"], o["diameter"], [tuple(p) for p in o["track"]])
            for o in data["objects"]
        ]
        return cls(data["width"], data["height"], data["fps"], data["frames"], objects)

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        return cls.from_json(json.loads(path.read_text()))
