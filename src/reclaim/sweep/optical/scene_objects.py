"""The moving parts of a synthetic flashlight sweep: lens glints and the highlights that
look like them (metal, water drops, LEDs, the flash's own reflection on gloss).

Each object draws itself additively onto a frame for a given view offset and time and
says where its glint is (image pixels) for the ground truth. How each one moves relative
to the room is the point of the exercise: a lens stays put in the room, a metal highlight
slides along its edge as the view moves, the flash's reflection on gloss stays put in the
picture, drops sparkle only at the right angle, and LEDs shine whatever the flash does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

Canvas = npt.NDArray[np.float32]
"""A frame being drawn: height x width x 3, linear 0-255 values before clipping."""
Offset = tuple[float, float]
"""Where the view's top-left corner is in the room (room pixels)."""
Truth = list[tuple[int, float, float, float]]
"""Glints shown: (part, x, y, diameter) in image pixels; ``part`` tells drops apart."""

WHITE = (1.0, 1.0, 1.0)


def stamp(
    canvas: Canvas,
    x: float,
    y: float,
    *,
    diameter: float,
    amplitude: float,
    colour: tuple[float, float, float] = WHITE,
    blur: float = 0.0,
    elongation: float = 1.0,
    angle: float = 0.0,
    cut: float = 0.0,
) -> None:
    """Add an anti-aliased elliptic disc centred at (x, y), optionally defocused (Gaussian
    ``blur`` sigma) and with the fraction ``cut`` of it hidden behind a straight edge."""
    radius = diameter / 2
    reach = math.ceil(radius * elongation + 3 * blur + 2)
    cx, cy = round(x), round(y)
    height, width = canvas.shape[:2]
    x0, x1 = max(cx - reach, 0), min(cx + reach + 1, width)
    y0, y1 = max(cy - reach, 0), min(cy + reach + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    dx = np.arange(cx - reach, cx + reach + 1, dtype=np.float32)[None, :] - x
    dy = np.arange(cy - reach, cy + reach + 1, dtype=np.float32)[:, None] - y
    cos, sin = math.cos(angle), math.sin(angle)
    along, across = dx * cos + dy * sin, -dx * sin + dy * cos
    distance = np.sqrt((along / elongation) ** 2 + across**2)
    cover = np.clip(radius - distance + 0.5, 0.0, 1.0)
    if cut > 0:  # an occluding edge across the disc, perpendicular to ``angle``
        cover *= np.clip(radius * (1 - 2 * cut) - along + 0.5, 0.0, 1.0)
    if blur > 0:
        kernel = _gaussian_matrix(cover.shape[0], blur)
        cover = kernel @ cover @ kernel.T
    patch = cover[y0 - (cy - reach) : y1 - (cy - reach), x0 - (cx - reach) : x1 - (cx - reach)]
    canvas[y0:y1, x0:x1] += patch[:, :, None] * (amplitude * np.asarray(colour, np.float32))


def glow(
    canvas: Canvas,
    x: float,
    y: float,
    *,
    sigma: float,
    amplitude: float,
    colour: tuple[float, float, float] = WHITE,
) -> None:
    """Add a round Gaussian glow (bloom, an LED's halo, the flash's broad reflection)."""
    reach = math.ceil(3 * sigma + 1)
    height, width = canvas.shape[:2]
    x0, x1 = max(math.floor(x) - reach, 0), min(math.floor(x) + reach + 1, width)
    y0, y1 = max(math.floor(y) - reach, 0), min(math.floor(y) + reach + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - x
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - y
    weight = np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    canvas[y0:y1, x0:x1] += weight[:, :, None] * (amplitude * np.asarray(colour, np.float32))


def _gaussian_matrix(size: int, sigma: float) -> npt.NDArray[np.float32]:
    index = np.arange(size, dtype=np.float32)
    weights = np.exp(-((index[:, None] - index[None, :]) ** 2) / (2 * sigma**2))
    normalised: npt.NDArray[np.float32] = weights / weights.sum(axis=1, keepdims=True)
    return normalised


def flash_gain(x: float, y: float, width: int, height: int) -> float:
    """How strongly the flashlight lights image point (x, y): brightest at the centre."""
    r2 = ((x - width / 2) ** 2 + (y - height / 2) ** 2) / (0.45 * width) ** 2
    return 0.6 + 0.55 * math.exp(-r2 / 2)


class SceneObject(Protocol):
    kind: str

    def draw(self, canvas: Canvas, offset: Offset, t: float) -> None: ...

    def truth(self, shape: tuple[int, int], offset: Offset, t: float) -> Truth:
        """Glints shown at time ``t`` in a picture of ``shape`` (height, width)."""
        ...


@dataclass
class Lens:
    """A camera lens in the room: retro-reflects the flash straight back."""

    x: float
    y: float
    diameter: float
    brightness: float = 1.0
    blur: float = 0.0
    cut: float = 0.0
    hidden: tuple[tuple[float, float], ...] = ()
    """Intervals (seconds) when something passes in front of it."""
    tint: tuple[float, float, float] = WHITE
    kind: str = "lens"

    def _shows(self, t: float) -> bool:
        return not any(start <= t < end for start, end in self.hidden)

    def draw(self, canvas: Canvas, offset: Offset, t: float) -> None:
        if not self._shows(t):
            return
        x, y = self.x - offset[0], self.y - offset[1]
        gain = flash_gain(x, y, canvas.shape[1], canvas.shape[0])
        amplitude = 480.0 * self.brightness * gain
        stamp(
            canvas,
            x,
            y,
            diameter=self.diameter,
            amplitude=amplitude,
            colour=self.tint,
            blur=self.blur,
            cut=self.cut,
            angle=0.7,
        )
        # A saturated glint blooms a little into its neighbours, as on a phone sensor.
        glow(canvas, x, y, sigma=0.8 * self.diameter, amplitude=0.12 * amplitude, colour=self.tint)

    def truth(self, shape: tuple[int, int], offset: Offset, t: float) -> Truth:
        return (
            [(0, self.x - offset[0], self.y - offset[1], self.diameter)] if self._shows(t) else []
        )


@dataclass
class MetalHighlight:
    """The flash reflected by a shiny edge (a towel rail, a tap): it slides along the
    edge by ``slide`` times the view's movement, changing shape and brightness."""

    start: tuple[float, float]
    end: tuple[float, float]
    slide: float
    phase: float
    size: float
    round_end: bool = False
    kind: str = "metal"

    def _where(self, offset: Offset) -> tuple[float, float, float]:
        (ax, ay), (bx, by) = self.start, self.end
        length = math.hypot(bx - ax, by - ay)
        # Any movement of the phone changes the angle, so the highlight runs along the
        # edge whichever way the view goes.
        along = self.phase + self.slide * (offset[0] + offset[1])
        u = (along / length) % 2.0
        u = 2.0 - u if u > 1.0 else u  # bounces between the ends as the view sweeps on
        return ax + u * (bx - ax) - offset[0], ay + u * (by - ay) - offset[1], u

    def draw(self, canvas: Canvas, offset: Offset, t: float) -> None:
        x, y, u = self._where(offset)
        (ax, ay), (bx, by) = self.start, self.end
        wobble = 0.5 + 0.5 * math.sin(9.0 * u + 3.0 * t)
        elongation = 1.0 + (0.4 if self.round_end else 2.5) * wobble
        amplitude = 200.0 + 160.0 * wobble
        stamp(
            canvas,
            x,
            y,
            diameter=self.size * (0.7 + 0.6 * wobble),
            amplitude=amplitude,
            elongation=elongation,
            angle=math.atan2(by - ay, bx - ax),
        )

    def truth(self, shape: tuple[int, int], offset: Offset, t: float) -> Truth:
        x, y, _ = self._where(offset)
        return [(0, x, y, self.size)]


@dataclass
class WaterDrops:
    """Drops on tiles or a mirror: each sparkles only while the view is within a few
    pixels of its own angle, so they come and go as the phone moves."""

    positions: npt.NDArray[np.float64]
    """n x 2 room positions."""
    angles: npt.NDArray[np.float64]
    """n x 2 view offsets at which each drop sparkles."""
    widths: npt.NDArray[np.float64]
    sizes: npt.NDArray[np.float64]
    kind: str = "drops"

    def _lit(self, offset: Offset) -> npt.NDArray[np.intp]:
        distance = np.hypot(self.angles[:, 0] - offset[0], self.angles[:, 1] - offset[1])
        return np.flatnonzero(distance < self.widths)

    def draw(self, canvas: Canvas, offset: Offset, t: float) -> None:
        for i in self._lit(offset):
            x, y = self.positions[i, 0] - offset[0], self.positions[i, 1] - offset[1]
            distance = math.hypot(self.angles[i, 0] - offset[0], self.angles[i, 1] - offset[1])
            strength = 1.0 - distance / self.widths[i]
            stamp(canvas, x, y, diameter=float(self.sizes[i]), amplitude=450.0 * strength)

    def truth(self, shape: tuple[int, int], offset: Offset, t: float) -> Truth:
        return [
            (
                int(i),
                self.positions[i, 0] - offset[0],
                self.positions[i, 1] - offset[1],
                float(self.sizes[i]),
            )
            for i in self._lit(offset)
        ]


@dataclass
class Led:
    """An indicator LED: a coloured dot with a glow, steady or blinking, flash or not."""

    x: float
    y: float
    colour: tuple[float, float, float]
    diameter: float
    period: float = 0.0
    """Blink period in seconds; 0 for a steady light."""
    phase: float = 0.0
    kind: str = "led"

    def _on(self, t: float) -> bool:
        return not self.period or ((t + self.phase) / self.period) % 1.0 < 0.5

    def draw(self, canvas: Canvas, offset: Offset, t: float) -> None:
        if not self._on(t):
            return
        x, y = self.x - offset[0], self.y - offset[1]
        # Its own colour at full strength: the channel that carries it saturates, as on
        # a phone sensor, while the others stay low.
        stamp(canvas, x, y, diameter=self.diameter, amplitude=300.0, colour=self.colour)
        glow(canvas, x, y, sigma=self.diameter, amplitude=90.0, colour=self.colour)

    def truth(self, shape: tuple[int, int], offset: Offset, t: float) -> Truth:
        return [(0, self.x - offset[0], self.y - offset[1], self.diameter)] if self._on(t) else []


@dataclass
class FlashHotspot:
    """The flash reflected by a glossy surface (tiles, the mirror, a lacquered door): it
    sits at the same place in the picture whatever part of the surface is behind it."""

    glossy: list[tuple[float, float, float, float]]
    """Room rectangles (x0, y0, x1, y1) that are glossy."""
    at: tuple[float, float]
    """Where in the picture, as fractions of width and height."""
    core: float
    spread: float
    seed: int = 0
    jitter: list[tuple[float, float]] = field(default_factory=list)
    kind: str = "hotspot"

    def _where(self, canvas_shape: tuple[int, int], offset: Offset, t: float) -> Offset | None:
        height, width = canvas_shape
        x, y = self.at[0] * width, self.at[1] * height
        rx, ry = x + offset[0], y + offset[1]
        if not any(x0 <= rx < x1 and y0 <= ry < y1 for x0, y0, x1, y1 in self.glossy):
            return None
        # Small unevenness of the surface moves the reflection a little.
        return x + 0.6 * math.sin(7.3 * t + self.seed), y + 0.6 * math.cos(5.1 * t + self.seed)

    def draw(self, canvas: Canvas, offset: Offset, t: float) -> None:
        where = self._where(canvas.shape[:2], offset, t)
        if where is None:
            return
        x, y = where
        glow(canvas, x, y, sigma=self.spread / 3, amplitude=70.0)
        stamp(canvas, x, y, diameter=self.core, amplitude=400.0, blur=0.4)

    def truth(self, shape: tuple[int, int], offset: Offset, t: float) -> Truth:
        where = self._where(shape, offset, t)
        return [] if where is None else [(0, where[0], where[1], self.core)]
