"""PDQ, compiled with numba, bit-identical to the C++ reference bound by ``pdqhash``.

Why not call ``pdqhash`` directly: its binding computes luma in float64 over the whole
frame and holds the GIL for the whole hash (about 80 ms for a 1080p frame here), which made
video hashing slower than real time allows. This port follows the reference's float32
order of operations step by step -- luma, two Jarosz box-filter passes per axis with the
same running sums, decimation to 64x64, the 16x64 DCT, Torben's median -- so that the
hash and quality are the same bits; ``tests/signals/test_pdq_core.py`` checks that against
``pdqhash`` on random and real pixels of many sizes. It releases the GIL, so frames can be
hashed while the next ones decode.

Hash layout (as the reference prints it): bit ``k = 16 * i + j`` of the 256-bit integer is
set when DCT coefficient ``[i][j]`` is above the median; hex is that integer, big-endian.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np
import numpy.typing as npt

MIN_HASHABLE_DIM = 5
_JAROSZ_PASSES = 2


def _dct_matrix() -> npt.NDArray[np.float32]:
    scale = float(np.float32(math.sqrt(2.0 / 64.0)))
    matrix = np.empty((16, 64), dtype=np.float32)
    for i in range(16):
        for j in range(64):
            matrix[i, j] = np.float32(
                scale * math.cos((math.pi / 2.0 / 64.0) * (i + 1) * (2 * j + 1))
            )
    return matrix


DCT_MATRIX = _dct_matrix()


@numba.njit(cache=True, nogil=True)
def _luma(rgb: npt.NDArray[np.uint8], out: npt.NDArray[np.float32]) -> None:
    rows, cols = rgb.shape[0], rgb.shape[1]
    for i in range(rows):
        for j in range(cols):
            r = np.float64(rgb[i, j, 0])
            g = np.float64(rgb[i, j, 1])
            b = np.float64(rgb[i, j, 2])
            out[i, j] = np.float32(r * 0.299 + g * 0.587 + b * 0.114)


@numba.njit(cache=True, nogil=True, inline="always")
def _window(old: int, new: int) -> int:
    return (old + 2 * new - 1) // (2 * new)


_ROW_BLOCK = 8


@numba.njit(cache=True, nogil=True)
def _box_rows(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32], window: int) -> None:
    """Running sums along each row; a block of rows advances together so that their
    independent sums overlap in the pipeline (each row's own order of additions is kept)."""
    rows, cols = src.shape
    half = (window + 2) // 2
    total = np.zeros(_ROW_BLOCK, dtype=np.float32)
    for first in range(0, rows, _ROW_BLOCK):
        count = min(_ROW_BLOCK, rows - first)
        total[:] = 0.0
        size = 0
        right = 0
        left = 0
        out = 0
        for _ in range(half - 1):
            for r in range(count):
                total[r] += src[first + r, right]
            size += 1
            right += 1
        for _ in range(window - half + 1):
            size += 1
            fsize = np.float32(size)
            for r in range(count):
                total[r] += src[first + r, right]
                dst[first + r, out] = total[r] / fsize
            right += 1
            out += 1
        fsize = np.float32(size)
        for _ in range(cols - window):
            for r in range(count):
                total[r] += src[first + r, right]
                total[r] -= src[first + r, left]
                dst[first + r, out] = total[r] / fsize
            left += 1
            right += 1
            out += 1
        for _ in range(half - 1):
            size -= 1
            fsize = np.float32(size)
            for r in range(count):
                total[r] -= src[first + r, left]
                dst[first + r, out] = total[r] / fsize
            left += 1
            out += 1


@numba.njit(cache=True, nogil=True)
def _box_cols(
    src: npt.NDArray[np.float32],
    dst: npt.NDArray[np.float32],
    window: int,
    columns: npt.NDArray[np.int64],
) -> None:
    """Running sums down each listed column, all columns advanced together row by row."""
    rows = src.shape[0]
    half = (window + 2) // 2
    ncol = columns.shape[0]
    total = np.zeros(ncol, dtype=np.float32)
    size = 0
    right = 0
    left = 0
    out = 0
    for _ in range(half - 1):
        for c in range(ncol):
            total[c] += src[right, columns[c]]
        size += 1
        right += 1
    for _ in range(window - half + 1):
        size += 1
        fsize = np.float32(size)
        for c in range(ncol):
            total[c] += src[right, columns[c]]
            dst[out, columns[c]] = total[c] / fsize
        right += 1
        out += 1
    fsize = np.float32(size)
    for _ in range(rows - window):
        for c in range(ncol):
            total[c] += src[right, columns[c]]
            total[c] -= src[left, columns[c]]
            dst[out, columns[c]] = total[c] / fsize
        left += 1
        right += 1
        out += 1
    for _ in range(half - 1):
        size -= 1
        fsize = np.float32(size)
        for c in range(ncol):
            total[c] -= src[left, columns[c]]
            dst[out, columns[c]] = total[c] / fsize
        left += 1
        out += 1


@numba.njit(cache=True, nogil=True)
def _downsample_64(
    luma: npt.NDArray[np.float32], other: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Jarosz-filter ``luma`` in place (``other`` is scratch space) and decimate to 64x64."""
    rows, cols = luma.shape
    out = np.empty((64, 64), dtype=np.float32)
    if rows == 64 and cols == 64:
        out[:, :] = luma
        return out
    picks_r = np.empty(64, dtype=np.int64)
    picks_c = np.empty(64, dtype=np.int64)
    for k in range(64):
        picks_r[k] = int(((k + 0.5) * rows) / 64)
        picks_c[k] = int(((k + 0.5) * cols) / 64)
    all_cols = np.arange(cols)
    win_rows = _window(cols, 64)
    win_cols = _window(rows, 64)
    _box_rows(luma, other, win_rows)
    _box_cols(other, luma, win_cols, all_cols)
    _box_rows(luma, other, win_rows)
    # The last pass feeds only the 64 decimated columns; each column's sum is independent.
    _box_cols(other, luma, win_cols, picks_c)
    for a in range(64):
        for b in range(64):
            out[a, b] = luma[picks_r[a], picks_c[b]]
    return out


@numba.njit(cache=True, nogil=True)
def _quality(buf: npt.NDArray[np.float32]) -> int:
    gradient = 0
    hundred = np.float32(100.0)
    scale = np.float32(255.0)
    for i in range(63):
        for j in range(64):
            gradient += abs(int(((buf[i, j] - buf[i + 1, j]) * hundred) / scale))
    for i in range(64):
        for j in range(63):
            gradient += abs(int(((buf[i, j] - buf[i, j + 1]) * hundred) / scale))
    return min(gradient // 90, 100)


@numba.njit(cache=True, nogil=True)
def _dct16(buf: npt.NDArray[np.float32], dct: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    tmp = np.empty((16, 64), dtype=np.float32)
    for i in range(16):
        for j in range(64):
            total = np.float32(0.0)
            for k in range(64):
                total += dct[i, k] * buf[k, j]
            tmp[i, j] = total
    out = np.empty((16, 16), dtype=np.float32)
    for i in range(16):
        for j in range(16):
            total = np.float32(0.0)
            for k in range(64):
                total += tmp[i, k] * dct[j, k]
            out[i, j] = total
    return out


@numba.njit(cache=True, nogil=True)
def _torben_median(values: npt.NDArray[np.float32]) -> np.float32:
    n = values.shape[0]
    lo = values[0]
    hi = values[0]
    for v in values:
        lo = min(lo, v)
        hi = max(hi, v)
    half = (n + 1) // 2
    two = np.float32(2.0)
    while True:
        guess = (lo + hi) / two
        less = greater = equal = 0
        max_lt = lo
        min_gt = hi
        for v in values:
            if v < guess:
                less += 1
                max_lt = max(max_lt, v)
            elif v > guess:
                greater += 1
                min_gt = min(min_gt, v)
            else:
                equal += 1
        if less <= half and greater <= half:
            break
        if less > greater:
            hi = max_lt
        else:
            lo = min_gt
    if less >= half:
        return np.float32(max_lt)
    if less + equal >= half:
        return np.float32(guess)
    return np.float32(min_gt)


@numba.njit(cache=True, nogil=True)
def _dct16_with(
    rgb: npt.NDArray[np.uint8], luma: npt.NDArray[np.float32], other: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float32], int]:
    _luma(rgb, luma)
    buf = _downsample_64(luma, other)
    return _dct16(buf, DCT_MATRIX), _quality(buf)


class _Scratch(threading.local):
    """Per-thread float buffers, kept between calls of the same frame size: a video's
    frames all share one size, and fresh multi-megabyte buffers cost page faults."""

    shape: tuple[int, int] = (0, 0)
    luma: npt.NDArray[np.float32] = np.empty((0, 0), np.float32)
    other: npt.NDArray[np.float32] = np.empty((0, 0), np.float32)


_SCRATCH = _Scratch()
_MAX_KEPT_PIXELS = 4096 * 2160


def dct16_from_rgb(rgb: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], int]:
    """The 16x16 DCT coefficients PDQ thresholds, and the quality (0-100)."""
    rows, cols = rgb.shape[0], rgb.shape[1]
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        return np.zeros((16, 16), dtype=np.float32), 0
    if (rows, cols) == _SCRATCH.shape:
        luma, other = _SCRATCH.luma, _SCRATCH.other
    else:
        luma = np.empty((rows, cols), np.float32)
        other = np.empty((rows, cols), np.float32)
        if rows * cols <= _MAX_KEPT_PIXELS:
            _SCRATCH.shape, _SCRATCH.luma, _SCRATCH.other = (rows, cols), luma, other
    dct, quality = _dct16_with(rgb, luma, other)
    return dct, int(quality)


def luma_of(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """PDQ's luma of ``rgb``: parts of a picture can be hashed from crops of it, each
    bit-identical to hashing the crop's pixels (luma is computed pixel by pixel)."""
    luma = np.empty(rgb.shape[:2], np.float32)
    _luma(np.ascontiguousarray(rgb), luma)
    return luma


@numba.njit(cache=True, nogil=True)
def _dct16_of_luma(
    luma: npt.NDArray[np.float32], work: npt.NDArray[np.float32], other: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float32], int]:
    work[:, :] = luma  # filtering works in place
    buf = _downsample_64(work, other)
    return _dct16(buf, DCT_MATRIX), _quality(buf)


def dct16_from_luma(luma: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], int]:
    """Like :func:`dct16_from_rgb`, from luma (a crop of :func:`luma_of`, say)."""
    rows, cols = luma.shape
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        return np.zeros((16, 16), dtype=np.float32), 0
    work = np.empty((rows, cols), np.float32)
    other = np.empty((rows, cols), np.float32)
    dct, quality = _dct16_of_luma(luma, work, other)
    return dct, int(quality)


@numba.njit(cache=True, nogil=True)
def bits_from_dct16(dct: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Hash bits in reference order: index ``16 * i + j`` set when above the median."""
    flat = dct.ravel()
    median = _torben_median(flat)
    return flat > median


_EXACT = {
    # name: (which mirror of the pixels to hash, transpose the DCT) -- a transpose of the
    # pixels is exactly a transpose of the DCT (both axes are filtered alike); mirrors are not.
    "original": ("none", False),
    "rot90": ("left-right", True),
    "rot180": ("both", False),
    "rot270": ("up-down", True),
    "flipx": ("up-down", False),
    "flipy": ("left-right", False),
    "flipplus1": ("none", True),
    "flipminus1": ("both", True),
}


@numba.njit(cache=True, nogil=True)
def _mirrored_dct16s(
    base: npt.NDArray[np.float32],
    work: npt.NDArray[np.float32],
    other: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float32], int]:
    """DCTs of the luma ``base`` as given and mirrored left-right, up-down and both (luma
    is computed per pixel, so mirroring it is mirroring the pixels). ``base`` is used up."""
    rows, cols = base.shape
    out = np.empty((4, 16, 16), dtype=np.float32)
    for mirror in (1, 2, 3):
        for i in range(rows):
            si = rows - 1 - i if mirror >= 2 else i
            for j in range(cols):
                work[i, j] = base[si, cols - 1 - j] if mirror != 2 else base[si, j]
        out[mirror] = _dct16(_downsample_64(work, other), DCT_MATRIX)
    buf = _downsample_64(base, other)  # last: filtering works in place
    out[0] = _dct16(buf, DCT_MATRIX)
    return out, _quality(buf)


def dihedral_dct16_of_luma(
    luma: npt.NDArray[np.float32],
) -> tuple[list[npt.NDArray[np.float32]], int]:
    """The DCTs of the 8 rotations and flips of the picture whose luma (:func:`luma_of`)
    this is, in ``_EXACT`` order, and the quality; each equal to hashing the turned
    pixels: four filtering passes, over the luma mirrored three ways (a transpose of the
    pixels is exactly a transpose of the DCT). ``luma`` is left as it was."""
    rows, cols = luma.shape
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        return [np.zeros((16, 16), dtype=np.float32) for _ in _EXACT], 0
    work, other = (np.empty((rows, cols), np.float32) for _ in range(2))
    dcts, quality = _mirrored_dct16s(np.array(luma, dtype=np.float32, order="C"), work, other)
    mirrors = {"none": 0, "left-right": 1, "up-down": 2, "both": 3}
    return [
        np.ascontiguousarray(dcts[mirrors[m]].T if transpose else dcts[mirrors[m]])
        for m, transpose in _EXACT.values()
    ], int(quality)


def bits_to_hex(bits: npt.NDArray[np.bool_]) -> str:
    """Reference hex of 256 bits given in index order (bit 0 is the least significant)."""
    return np.packbits(bits[::-1]).tobytes().hex()
