"""The still room of a synthetic sweep: painted wall, glossy tiles, a mirror, a shelf with
boxes, screens, metal bars and the housings lenses hide in, as a reflectance layer (lit
by the flashlight) and the screens (which shine by themselves)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PIL import Image

from reclaim.sweep.optical.scene_objects import Offset

Layer = npt.NDArray[np.float32]
Box = tuple[float, float, float, float]


class Room:
    """A room larger than the view, in room pixels; the view slides over it."""

    def __init__(self, width: int, height: int, pan: float, tilt: float) -> None:
        self.view_size = (width, height)
        self.margin = 0.05 * width + 8
        self.width = math.ceil(width * (1 + pan) + 2 * self.margin) + 2
        self.height = math.ceil(height * (1 + 2 * tilt) + 2 * self.margin) + 2
        self.albedo: Layer = np.zeros((self.height, self.width, 3), np.float32)
        self.screens: list[tuple[int, int, Layer]] = []
        """Room position of each screen's padded top-left corner, and its picture."""
        self.glossy: list[Box] = []
        self.occupied: list[Box] = []
        m, w, h = self.margin, width, height
        # Where a point stays in view for much of the sweep.
        self.band: Box = (
            m + 0.15 * w,
            m + 0.12 * h + 2 * tilt * h,
            m + pan * w + 0.85 * w,
            m + 0.88 * h,
        )
        self.tiles_top = m + tilt * h + 0.52 * h  # the view centre crosses it

    def view(self, offset: Offset, width: int, height: int) -> Layer:
        """The reflectance seen from ``offset``, sampled bilinearly (sub-pixel moves)."""
        ox, oy = self._clamped(offset, width, height)
        ix, iy = int(ox), int(oy)
        return _bilinear(self.albedo[iy : iy + height + 1, ix : ix + width + 1], ox - ix, oy - iy)

    def blurred_view(self, offsets: list[Offset], width: int, height: int) -> Layer:
        """The reflectance averaged over a moving exposure: whole-pixel steps are enough
        when the blur is a few pixels long, and much cheaper."""
        total = np.zeros((height, width, 3), np.float32)
        for offset in offsets:
            ox, oy = self._clamped(offset, width, height)
            ix, iy = round(ox), round(oy)
            total += self.albedo[iy : iy + height, ix : ix + width]
        total /= len(offsets)
        return total

    def draw_screens(self, canvas: Layer, offset: Offset) -> None:
        """Add the screens (they shine by themselves: no flash falloff) seen from ``offset``."""
        height, width = canvas.shape[:2]
        for sx, sy, content in self.screens:
            x, y = sx - offset[0], sy - offset[1]
            ix, iy = math.floor(x), math.floor(y)
            # Sampling the padded content at -fraction lands it at the sub-pixel place.
            shifted = _bilinear(content, 1 - (x - ix), 1 - (y - iy))
            x0, y0 = ix + 1, iy + 1
            cx0, cy0 = max(0, -x0), max(0, -y0)
            cx1 = min(shifted.shape[1], width - x0)
            cy1 = min(shifted.shape[0], height - y0)
            if cx0 < cx1 and cy0 < cy1:
                canvas[y0 + cy0 : y0 + cy1, x0 + cx0 : x0 + cx1] += shifted[cy0:cy1, cx0:cx1]

    def _clamped(self, offset: Offset, width: int, height: int) -> Offset:
        return (
            min(max(offset[0], 0.0), self.width - width - 1.001),
            min(max(offset[1], 0.0), self.height - height - 1.001),
        )

    def place(
        self, rng: np.random.Generator, clearance: float, keep: float = 2.0
    ) -> tuple[float, float]:
        """A free spot in the well-seen band, ``clearance`` away from anything placed;
        ``keep`` pixels around it are reserved for it."""
        x0, y0, x1, y1 = self.band
        for _ in range(1000):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if not any(_near(box, x, y, clearance) for box in self.occupied):
                self.occupied.append((x - keep, y - keep, x + keep, y + keep))
                return float(x), float(y)
        raise ValueError("the room is too full to place anything more")

    def free_box(self, width: float, height: float, rng: np.random.Generator) -> Box:
        """A free rectangle, in the well-seen band if there is room, else anywhere the
        view passes."""
        m = self.margin
        anywhere = (m, m, self.width - m, self.height - m)
        for x0, y0, x1, y1 in (self.band, anywhere):
            for _ in range(500):
                x = rng.uniform(x0, max(x0, x1 - width))
                y = rng.uniform(y0, max(y0, y1 - height))
                box = (x, y, x + width, y + height)
                if not any(_overlap(box, other, 6) for other in self.occupied):
                    self.occupied.append(box)
                    return box
        raise ValueError("the room is too full to place anything more")

    def housing(self, x: float, y: float, diameter: float) -> None:
        """A small dark device face (smoke detector, screw head, clock) around ``x, y``."""
        _disc(self.albedo, x, y, 2.2 * diameter + 6, (150.0, 150.0, 145.0))
        _disc(self.albedo, x, y, 1.2 * diameter + 2, (28.0, 28.0, 32.0))

    def screen(self, width: float, aspect: float, rng: np.random.Generator) -> None:
        x0, y0, x1, y1 = (round(v) for v in self.free_box(width, width * aspect, rng))
        self.albedo[y0 - 2 : y1 + 2, x0 - 2 : x1 + 2] = 18.0
        self.albedo[y0:y1, x0:x1] = 0.0
        ys = np.linspace(0, 1, y1 - y0, dtype=np.float32)[:, None, None]
        xs = np.linspace(0, 1, x1 - x0, dtype=np.float32)[None, :, None]
        base = np.asarray(rng.uniform(215, 250, 3), np.float32)
        content = base - 25 * ys * xs
        for _ in range(int(rng.integers(2, 6))):  # dark lines of text or picture
            row = int(rng.integers(0, max(1, y1 - y0 - 2)))
            content[row : row + 2, : int(rng.integers(1, x1 - x0 + 1))] *= 0.4
        padded = np.zeros((y1 - y0 + 2, x1 - x0 + 2, 3), np.float32)
        padded[1:-1, 1:-1] = content
        self.screens.append((x0 - 1, y0 - 1, padded))

    def bar(
        self, length: float, *, horizontal: bool, rng: np.random.Generator
    ) -> tuple[tuple[float, float], tuple[float, float]]:
        """A metal bar (rail or tap); returns its end points along its centre line."""
        thick = 4.0
        w, h = (length, thick) if horizontal else (thick, length)
        x0, y0, x1, y1 = self.free_box(w, h, rng)
        shade = np.asarray([150.0, 152.0, 156.0], np.float32)
        self.albedo[round(y0) : round(y1) + 1, round(x0) : round(x1) + 1] = shade
        if horizontal:
            self.albedo[round(y1) + 1 : round(y1) + 3, round(x0) : round(x1) + 1] *= 0.5
            mid = (y0 + y1) / 2
            return (x0, mid), (x1, mid)
        mid = (x0 + x1) / 2
        return (mid, y0), (mid, y1)

    def drop_area(self, width: float, height: float, rng: np.random.Generator) -> Box:
        box = self.free_box(width, height, rng)
        self.glossy.append(box)
        return box


def build_room(width: int, height: int, pan: float, tilt: float, rng: np.random.Generator) -> Room:
    room = Room(width, height, pan, tilt)
    _wall(room, rng)
    _tiles(room, rng)
    _mirror(room, rng)
    _shelf(room, rng)
    return room


def _wall(room: Room, rng: np.random.Generator) -> None:
    colour = np.asarray(rng.uniform([120, 110, 95], [165, 155, 145]), np.float32)
    coarse = rng.uniform(0.85, 1.1, (6, 9)).astype(np.float32)
    shading = np.asarray(
        Image.fromarray(coarse, mode="F").resize(
            (room.width, room.height), Image.Resampling.BICUBIC
        )
    )
    room.albedo[:] = colour * shading[:, :, None]
    room.albedo += rng.normal(0, 3.0, (room.height, room.width, 1)).astype(np.float32)


def _tiles(room: Room, rng: np.random.Generator) -> None:
    top = round(room.tiles_top)
    size = max(8, round(room.view_size[0] * rng.uniform(0.05, 0.08)))
    base = np.asarray(rng.uniform([150, 150, 150], [180, 185, 190]), np.float32)
    area = room.albedo[top:]
    rows, cols = area.shape[0] // size + 1, room.width // size + 1
    jitter = rng.normal(0, 5, (rows, cols, 1)).astype(np.float32)
    tiles = np.repeat(np.repeat(jitter, size, 0), size, 1)[: area.shape[0], : room.width]
    area[:] = base + tiles
    area[::size] *= 0.62  # grout lines
    area[:, ::size] *= 0.62
    room.glossy.append((0.0, float(top), float(room.width), float(room.height)))


def _mirror(room: Room, rng: np.random.Generator) -> None:
    w, h = room.view_size
    x0, y0, x1, y1 = (round(v) for v in room.free_box(0.2 * w, 0.26 * h, rng))
    room.albedo[y0 - 4 : y1 + 4, x0 - 4 : x1 + 4] = 178.0
    gradient = np.linspace(60, 95, y1 - y0, dtype=np.float32)[:, None, None]
    room.albedo[y0:y1, x0:x1] = gradient * np.asarray([0.9, 1.0, 1.1], np.float32)
    room.glossy.append((float(x0), float(y0), float(x1), float(y1)))


def _shelf(room: Room, rng: np.random.Generator) -> None:
    w, h = room.view_size
    x0, y0, x1, y1 = (round(v) for v in room.free_box(0.35 * w, 0.2 * h, rng))
    plank = y1 - 6
    room.albedo[plank : plank + 6, x0:x1] = (120.0, 85.0, 55.0)
    room.albedo[plank + 6 : plank + 12, x0:x1] *= 0.6
    x = x0 + 4
    while x < x1 - 12:
        bw, bh = int(rng.integers(8, 24)), int(rng.integers(10, max(11, plank - y0)))
        room.albedo[plank - bh : plank, x : min(x + bw, x1)] = rng.uniform(30, 170, 3)
        x += bw + int(rng.integers(3, 12))


def _bilinear(window: Layer, fx: float, fy: float) -> Layer:
    across: Layer = window[:, :-1] * (1 - fx)
    across += window[:, 1:] * fx
    out: Layer = across[:-1] * (1 - fy)
    out += across[1:] * fy
    return out


def _disc(layer: Layer, x: float, y: float, diameter: float, colour: tuple[float, ...]) -> None:
    r = diameter / 2
    x0, x1 = max(0, math.floor(x - r)), min(layer.shape[1], math.ceil(x + r) + 1)
    y0, y1 = max(0, math.floor(y - r)), min(layer.shape[0], math.ceil(y + r) + 1)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    cover = np.clip(r - np.hypot(xs - x, ys - y) + 0.5, 0, 1)[:, :, None]
    layer[y0:y1, x0:x1] = layer[y0:y1, x0:x1] * (1 - cover) + np.asarray(colour) * cover


def _near(box: Box, x: float, y: float, clearance: float) -> bool:
    x0, y0, x1, y1 = box
    return x0 - clearance < x < x1 + clearance and y0 - clearance < y < y1 + clearance


def _overlap(a: Box, b: Box, gap: float) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap
