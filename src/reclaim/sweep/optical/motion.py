"""How the view moved between two frames: phase correlation of small greyscale copies.

A lens is fixed in the room, so once the view's movement is known its position in the
next frame is predicted, and whether a glint kept to the room or slid over it can be
measured. Phase correlation (the normalised cross-power spectrum, numpy's FFT) finds the
shift that the room's texture as a whole agrees on; bright things are clipped first so
that the glints and the flash's reflection -- which move differently -- do not vote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Grey = npt.NDArray[np.float32]
WIDTH = 320
"""Frames are reduced to about this width before correlating (sub-pixel peak: enough)."""
MIN_QUALITY = 0.04
"""A correlation peak lower than this is noise: the view changed too much, or is blank."""
_CLIP = 200.0
MIN_GRID = 8
"""A reduced frame with fewer rows or columns than this carries no usable texture (a
video 2 pixels high): its movement is unmeasured, not computed from an empty grid."""


@dataclass(frozen=True, slots=True)
class Step:
    """The shift (pixels of the full frame) that carries the previous frame onto this one."""

    dx: float
    dy: float
    quality: float
    """Height of the correlation peak: near 1 for a clean shift, near 0 for none."""

    @property
    def reliable(self) -> bool:
        return self.quality >= MIN_QUALITY


class MotionEstimator:
    """Feed it frames in order; each :meth:`step` says how far the view moved since the
    last one."""

    def __init__(self) -> None:
        self._previous: npt.NDArray[np.complex64] | None = None
        self._shape: tuple[int, int] | None = None
        self._factor = 1
        self._window: Grey | None = None
        self._weights: Grey | None = None
        self._perfect = 1.0

    def step(self, rgb: npt.NDArray[np.uint8]) -> Step:
        """The movement since the previous frame (none for the first frame)."""
        height, width = rgb.shape[:2]
        factor = max(1, round(width / WIDTH))
        if min(height, width) // factor < MIN_GRID:
            self._previous = None
            return Step(0.0, 0.0, 0.0)
        spectrum = self._spectrum(rgb, factor)
        previous, self._previous = self._previous, spectrum
        if previous is None or previous.shape != spectrum.shape:
            return Step(0.0, 0.0, 1.0)
        if self._perfect <= 0:  # a frame too small to carry any texture
            return Step(0.0, 0.0, 0.0)
        cross = spectrum * np.conj(previous)
        assert self._weights is not None
        cross *= self._weights / np.maximum(np.abs(cross), 1e-9)
        surface = np.fft.irfft2(cross, s=self._shape)
        dy, dx, height = _peak(surface)
        return Step(dx * self._factor, dy * self._factor, min(1.0, height / self._perfect))

    def _spectrum(self, rgb: npt.NDArray[np.uint8], factor: int) -> npt.NDArray[np.complex64]:
        height, width = rgb.shape[:2]
        rows, cols = height // factor, width // factor
        green = rgb[: rows * factor, : cols * factor, 1]  # green carries most of the luma
        grey = np.zeros((rows, cols), np.float32)
        for dy in range(factor):  # block means as sums of strided planes: fast in numpy
            for dx in range(factor):
                grey += green[dy::factor, dx::factor]
        grey /= factor * factor
        if self._shape != (rows, cols):
            self._setup(rows, cols, factor)
        assert self._window is not None
        grey = np.minimum(grey, _CLIP)
        grey -= grey.mean()
        spectrum: npt.NDArray[np.complex64] = np.fft.rfft2(grey * self._window).astype(np.complex64)
        return spectrum

    def _setup(self, rows: int, cols: int, factor: int) -> None:
        self._shape, self._factor = (rows, cols), factor
        self._previous = None
        self._window = np.outer(np.hanning(rows), np.hanning(cols)).astype(np.float32)
        # Keep the band where texture lives: drop the lowest frequencies (the flash's
        # fall-off moves with the phone) and damp the highest (noise, compression).
        fy = np.fft.fftfreq(rows)[:, None]
        fx = np.fft.rfftfreq(cols)[None, :]
        radius = np.sqrt(fx**2 + fy**2)
        weights = np.exp(-((radius / 0.25) ** 2)) * (radius > 1.5 / min(rows, cols))
        self._weights = weights.astype(np.float32)
        # The peak a perfect shift would give: what the quality is measured against.
        self._perfect = float(np.fft.irfft2(self._weights, s=(rows, cols))[0, 0])


def _peak(surface: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Position (wrapped to signed shifts, refined to sub-pixel) and height of the peak."""
    rows, cols = surface.shape
    index = int(np.argmax(surface))
    py, px = divmod(index, cols)
    dy = py + _parabola(surface[(py - 1) % rows, px], surface[py, px], surface[(py + 1) % rows, px])
    dx = px + _parabola(surface[py, (px - 1) % cols], surface[py, px], surface[py, (px + 1) % cols])
    dy = dy - rows if dy > rows / 2 else dy
    dx = dx - cols if dx > cols / 2 else dx
    return float(dy), float(dx), float(surface[py, px])


def _parabola(left: float, centre: float, right: float) -> float:
    denominator = left - 2 * centre + right
    if denominator >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / denominator, -0.5, 0.5))
