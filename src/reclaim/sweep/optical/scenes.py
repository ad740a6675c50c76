"""Synthetic flashlight sweeps: a room (walls, tiles, a mirror, a shelf) filmed by a
panning, shaking phone with its flashlight on, with hidden lenses and everything that
glints like one, written as H.264 MP4 with a JSON ground truth of every glint per frame.

Tests and the benchmark use these; nobody can hand out real spy-camera sweeps of
bathrooms, and a generator gives exact positions. The camera moves by pure translation
(pan, tilt, shake) with motion blur; real phones also roll and see parallax, which the
detector's tolerances have to absorb (see docs/sweep-optical.md).
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from reclaim.sweep.optical.scene_objects import (
    WHITE,
    Canvas,
    FlashHotspot,
    Led,
    Lens,
    MetalHighlight,
    Offset,
    SceneObject,
    WaterDrops,
    flash_gain,
)
from reclaim.sweep.optical.scene_room import Room, build_room
from reclaim.sweep.optical.scene_truth import GroundTruth, ObjectTruth


class Distractor(enum.StrEnum):
    """Things that glint but are not lenses."""

    METAL = "metal"
    SCREEN = "screen"
    DROPS = "drops"
    LED = "led"
    HOTSPOT = "hotspot"


ALL_DISTRACTORS = frozenset(Distractor)
_NOISE_FIELDS = 6


@dataclass(frozen=True, slots=True)
class LensSpec:
    """One hidden lens; sizes are in pixels of the written video."""

    diameter: float
    brightness: float = 1.0
    blur: float = 0.0
    """Defocus, as a Gaussian sigma in pixels."""
    cut: float = 0.0
    """Fraction of the glint hidden behind an edge (partial occlusion)."""
    hidden: float = 0.0
    """Fraction of the clip during which something passes in front of it."""
    tint: tuple[float, float, float] = WHITE


@dataclass(frozen=True, slots=True)
class SceneSpec:
    seed: int
    width: int = 480
    height: int = 270
    fps: int = 15
    seconds: float = 6.0
    lenses: tuple[LensSpec, ...] = ()
    distractors: frozenset[Distractor] = ALL_DISTRACTORS
    pan: float = 0.5
    """How far the view travels sideways and back, as a fraction of its width."""
    tilt: float = 0.08
    shake: float = 1.5
    """Hand shake amplitude in pixels."""
    motion_blur: bool = True
    noise: float = 2.0
    crf: int = 20

    @property
    def frames(self) -> int:
        return round(self.seconds * self.fps)


@dataclass
class Scene:
    """A built scene: the room, how the view moves, and what glints in it."""

    spec: SceneSpec
    room: Room
    offset: Callable[[float], Offset]
    objects: list[tuple[str, SceneObject]]
    gain: npt.NDArray[np.float32] = field(init=False)
    _fields: list[Canvas] = field(init=False, default_factory=list)
    _last: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        w, h = self.spec.width, self.spec.height
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xs - w / 2) ** 2 + (ys - h / 2) ** 2) / (0.45 * w) ** 2
        self.gain = (0.6 + 0.55 * np.exp(-r2 / 2))[:, :, None].astype(np.float32)
        assert abs(float(self.gain[h // 2, w // 2, 0]) - flash_gain(w // 2, h // 2, w, h)) < 0.01

    def frame(self, index: int, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
        """Frame ``index``: the room and its glints averaged over the exposure while the
        view moves (motion blur), lit by the flash, with sensor noise."""
        spec = self.spec
        t = index / spec.fps
        exposure = 0.5 / spec.fps
        steps = 1
        if spec.motion_blur:
            (ax, ay), (bx, by) = self.offset(t - exposure / 2), self.offset(t + exposure / 2)
            steps = int(np.clip(math.ceil(math.hypot(bx - ax, by - ay)), 1, 6))
        times = np.linspace(t - exposure / 2, t + exposure / 2, steps) if steps > 1 else [t]
        offsets = [self.offset(float(sub)) for sub in times]
        if steps == 1:
            room = self.room.view(offsets[0], spec.width, spec.height)
        else:
            room = self.room.blurred_view(offsets, spec.width, spec.height)
        canvas: Canvas = room * self.gain
        shining = np.zeros_like(canvas)  # what does not follow the flash's falloff
        for sub, offset in zip(times, offsets, strict=True):
            self.room.draw_screens(shining, offset)
            for _, thing in self.objects:
                thing.draw(shining, offset, float(sub))
        if steps > 1:
            shining /= steps
        canvas += shining
        canvas += self._noise(rng)
        return np.clip(canvas, 0, 255).astype(np.uint8)

    def _noise(self, rng: np.random.Generator) -> Canvas:
        """Sensor noise: one of a few pre-drawn fields, never the same twice running (a
        field shared by neighbouring frames would look like a still layer to the motion
        estimate)."""
        if not self._fields:
            shape = (_NOISE_FIELDS, self.spec.height, self.spec.width, 3)
            self._fields = list(self.spec.noise * rng.standard_normal(shape, dtype=np.float32))
        choice = int(rng.integers(len(self._fields) - 1))
        self._last = choice if choice < self._last else choice + 1
        return self._fields[self._last]

    def truth_at(self, index: int) -> list[tuple[str, str, float, float, float]]:
        """(ident, kind, x, y, diameter) of every glint inside frame ``index``, at the
        middle of the exposure; one shown for only part of the exposure (coming out from
        behind something, an LED switching on) counts too, as it is drawn."""
        spec = self.spec
        t = index / spec.fps
        offset = self.offset(t)
        exposure = 0.5 / spec.fps
        shown: dict[str, tuple[str, str, float, float, float]] = {}
        for moment in (t, t - exposure / 2, t + exposure / 2):
            for ident, thing in self.objects:
                for part, x, y, diameter in thing.truth((spec.height, spec.width), offset, moment):
                    name = ident if thing.kind != "drops" else f"{ident}.{part}"
                    if name not in shown and 0 <= x < spec.width and 0 <= y < spec.height:
                        shown[name] = (name, thing.kind, x, y, diameter)
        return list(shown.values())


@dataclass(frozen=True, slots=True)
class SceneRanges:
    """Ranges random scenes are drawn from (sizes in pixels of the written video)."""

    sizes: tuple[tuple[int, int], ...] = ((480, 270),)
    fps: tuple[int, ...] = (15,)
    seconds: tuple[float, float] = (5.0, 8.0)
    lenses: tuple[int, int] = (1, 2)
    diameter: tuple[float, float] = (1.5, 8.0)
    brightness: tuple[float, float] = (0.6, 1.0)
    blur: tuple[float, float] = (0.0, 1.2)
    cut: tuple[float, float] = (0.0, 0.4)
    hidden: tuple[float, float] = (0.0, 0.15)
    tint: float = 0.12
    """Largest tint of a lens glint (lens coatings), as chroma."""
    pan: tuple[float, float] = (0.3, 0.8)
    shake: tuple[float, float] = (0.5, 3.0)


def random_spec(
    seed: int, ranges: SceneRanges = SceneRanges(), *, lenses: int | None = None
) -> SceneSpec:
    """A scene drawn from ``ranges``; ``seed`` decides everything, so the same seed and
    ranges give the same video."""
    rng = np.random.default_rng([seed, 7])
    width, height = ranges.sizes[int(rng.integers(len(ranges.sizes)))]
    count = int(rng.integers(ranges.lenses[0], ranges.lenses[1] + 1)) if lenses is None else lenses
    specs = []
    for _ in range(count):
        tint = np.clip(1.0 - rng.uniform(0, ranges.tint, 3), 0, 1)
        specs.append(
            LensSpec(
                diameter=float(rng.uniform(*ranges.diameter)),
                brightness=float(rng.uniform(*ranges.brightness)),
                blur=float(rng.uniform(*ranges.blur)) if rng.random() < 0.5 else 0.0,
                cut=float(rng.uniform(*ranges.cut)) if rng.random() < 0.3 else 0.0,
                hidden=float(rng.uniform(*ranges.hidden)) if rng.random() < 0.3 else 0.0,
                tint=(float(tint[0]), float(tint[1]), float(tint[2])),
            )
        )
    return SceneSpec(
        seed=seed,
        width=width,
        height=height,
        fps=ranges.fps[int(rng.integers(len(ranges.fps)))],
        seconds=float(rng.uniform(*ranges.seconds)),
        lenses=tuple(specs),
        pan=float(rng.uniform(*ranges.pan)),
        shake=float(rng.uniform(*ranges.shake)),
    )


def build_scene(spec: SceneSpec) -> Scene:
    """The room, the view's path and the glinting things that ``spec`` asks for."""
    rng = np.random.default_rng(spec.seed)
    room = build_room(spec.width, spec.height, spec.pan, spec.tilt, rng)
    offset = _camera_path(spec, room, rng)
    objects: list[tuple[str, SceneObject]] = []
    for number, lens in enumerate(spec.lenses, start=1):
        x, y = room.place(rng, 0.06 * spec.width, keep=0.06 * spec.width)
        room.housing(x, y, lens.diameter)
        hidden = _hidden_intervals(lens.hidden, spec.seconds, rng)
        objects.append(
            (
                f"lens-{number}",
                Lens(x, y, lens.diameter, lens.brightness, lens.blur, lens.cut, hidden, lens.tint),
            )
        )
    for kind in sorted(spec.distractors):
        for number, thing in enumerate(_distractors(kind, spec, room, offset, rng), start=1):
            objects.append((f"{kind}-{number}", thing))
    for _ in range(2):  # housings with nothing in them: the detector must not key on them
        with contextlib.suppress(ValueError):  # no room left: fine without
            room.housing(*room.place(rng, 0.04 * spec.width), float(rng.uniform(2, 6)))
    return Scene(spec, room, offset, objects)


def write_scene(spec: SceneSpec, path: Path) -> GroundTruth:
    """Write the scene as an H.264 MP4 at ``path`` and its ground truth beside it
    (``path`` with a ``.json`` suffix); return the ground truth."""
    scene = build_scene(spec)
    truth = GroundTruth(spec.width, spec.height, spec.fps, spec.frames)
    tracks: dict[str, ObjectTruth] = {}
    noise = np.random.default_rng(spec.seed + 1_000_003)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream: Any = container.add_stream("libx264", rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.codec_context.gop_size = 2 * spec.fps
        stream.codec_context.time_base = Fraction(1, spec.fps)
        stream.codec_context.options = {"preset": "veryfast", "crf": str(spec.crf)}
        for index in range(spec.frames):
            frame = av.VideoFrame.from_ndarray(scene.frame(index, noise), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
            for ident, kind, x, y, diameter in scene.truth_at(index):
                if ident not in tracks:
                    tracks[ident] = ObjectTruth(ident, kind, diameter)
                    truth.objects.append(tracks[ident])
                tracks[ident].track.append((index, round(float(x), 2), round(float(y), 2)))
        for packet in stream.encode(None):
            container.mux(packet)
    path.with_suffix(".json").write_text(json.dumps(truth.to_json()))
    return truth


def _camera_path(
    spec: SceneSpec, room: Room, rng: np.random.Generator
) -> Callable[[float], Offset]:
    """Out and back across the room once, a slow tilt, and hand shake on top."""
    travel, lift = spec.pan * spec.width, spec.tilt * spec.height
    start = rng.uniform(-0.5, 0.5)
    reverse = rng.random() < 0.5
    tilt_rate, tilt_phase = rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)
    shake = [
        (rng.uniform(2.0, 7.0), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi))
        for _ in range(3)
    ]
    period = spec.seconds

    def offset(t: float) -> Offset:
        sweep = 0.5 - 0.5 * math.cos(2 * math.pi * t / period + start)
        x = room.margin + travel * ((1 - sweep) if reverse else sweep)
        y = room.margin + lift * (1 + math.sin(2 * math.pi * tilt_rate * t / period + tilt_phase))
        for rate, phase_x, phase_y in shake:
            x += spec.shake / 1.7 * math.sin(2 * math.pi * rate * t + phase_x)
            y += spec.shake / 1.7 * math.sin(2 * math.pi * rate * t + phase_y)
        return x, y

    return offset


def _hidden_intervals(
    fraction: float, seconds: float, rng: np.random.Generator
) -> tuple[tuple[float, float], ...]:
    if fraction <= 0:
        return ()
    length = fraction * seconds / 2
    starts = rng.uniform(0.1 * seconds, 0.9 * seconds - length, size=2)
    return tuple((float(s), float(s + length)) for s in starts)


_LED_COLOURS = ((1.0, 0.08, 0.05), (0.1, 1.0, 0.2), (1.0, 0.5, 0.05), (0.15, 0.35, 1.0))


def _distractors(
    kind: Distractor,
    spec: SceneSpec,
    room: Room,
    offset: Callable[[float], Offset],
    rng: np.random.Generator,
) -> list[SceneObject]:
    w = spec.width
    if kind is Distractor.SCREEN:
        room.screen(w * rng.uniform(0.16, 0.24), 9 / 16, rng)
        room.screen(w * rng.uniform(0.035, 0.05), 16 / 9, rng)  # a phone on the shelf
        return []
    if kind is Distractor.METAL:
        rail = room.bar(w * rng.uniform(0.25, 0.4), horizontal=True, rng=rng)
        tap = room.bar(w * rng.uniform(0.06, 0.1), horizontal=False, rng=rng)
        return [
            MetalHighlight(
                *rail,
                slide=rng.uniform(0.35, 0.9),
                phase=rng.uniform(0, w),
                size=rng.uniform(3.0, 5.0),
            ),
            MetalHighlight(
                *tap,
                slide=rng.uniform(0.4, 1.0),
                phase=rng.uniform(0, w),
                size=rng.uniform(3.0, 5.0),
                round_end=True,
            ),
        ]
    if kind is Distractor.DROPS:
        return [_drops(spec, room, offset, rng)]
    if kind is Distractor.LED:
        leds: list[SceneObject] = []
        for blinking in (False, True):
            x, y = room.place(rng, 0.08 * w)
            room.housing(x, y, 3.0)  # LEDs sit on dark device faces
            colour = _LED_COLOURS[int(rng.integers(len(_LED_COLOURS)))]
            period = float(rng.uniform(0.6, 1.6)) if blinking else 0.0
            leds.append(Led(x, y, colour, float(rng.uniform(2.0, 3.5)), period, rng.uniform()))
        return leds
    at = (0.5 + rng.uniform(-0.12, 0.12), 0.5 + rng.uniform(-0.1, 0.1))
    return [
        FlashHotspot(
            room.glossy,
            at,
            core=rng.uniform(3.0, 6.0),
            spread=0.06 * w,
            seed=int(rng.integers(1000)),
        )
    ]


def _drops(
    spec: SceneSpec, room: Room, offset: Callable[[float], Offset], rng: np.random.Generator
) -> WaterDrops:
    count = int(rng.integers(30, 50))
    x0, y0, x1, y1 = room.drop_area(0.18 * spec.width, 0.14 * spec.height, rng)
    positions = np.column_stack([rng.uniform(x0, x1, count), rng.uniform(y0, y1, count)])
    times = rng.uniform(0, spec.seconds, count)
    angles = np.array([offset(float(t)) for t in times]) + rng.normal(0, 4.0, (count, 2))
    return WaterDrops(
        positions=positions,
        angles=angles,
        widths=rng.uniform(3.0, 9.0, count),
        sizes=rng.uniform(1.0, 2.5, count),
    )
