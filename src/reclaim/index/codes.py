"""PDQ codes as arrays: conversion from and to hex, and validation of caller input.

A code is the 256-bit PDQ hash as ``uint8[32]`` in ``bytes.fromhex`` order: byte 0 holds
the first two hex digits, the most significant bits of the hash. Many codes are
``uint8[n, 32]``, C-contiguous, so that the index can view them as ``uint64[n, 4]`` for
popcount; distances do not depend on the byte order of that view. vPDQ frame hashes are PDQ
codes and use the same arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from reclaim.index.errors import InvalidCodes

CODE_BYTES = 32
CODE_BITS = 8 * CODE_BYTES
HEX_DIGITS = 2 * CODE_BYTES

Codes = npt.NDArray[np.uint8]
Ids = npt.NDArray[np.int64]


def hex_to_codes(values: Sequence[str]) -> Codes:
    """``uint8[n, 32]`` from 64-digit hex strings (either case); raises :class:`InvalidCodes`."""
    for value in values:
        if not isinstance(value, str) or len(value) != HEX_DIGITS:
            raise InvalidCodes(f"a PDQ hash is {HEX_DIGITS} hex digits, not {value!r}")
    try:
        raw = bytes.fromhex("".join(values))
    except ValueError as error:
        raise InvalidCodes(f"PDQ hashes must contain only hex digits: {error}") from None
    # fromhex skips spaces, so a string with spaces in it comes out short: count the bytes.
    if len(raw) != CODE_BYTES * len(values):
        raise InvalidCodes("PDQ hashes must contain only hex digits, without spaces")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), CODE_BYTES).copy()


def hex_to_code(value: str) -> Codes:
    """``uint8[32]`` from one 64-digit hex string."""
    return hex_to_codes([value]).reshape(CODE_BYTES)


def codes_to_hex(codes: npt.ArrayLike) -> list[str]:
    """Lower-case hex strings of ``uint8[n, 32]`` codes (the inverse of :func:`hex_to_codes`)."""
    array = as_codes(codes)
    return [row.tobytes().hex() for row in array]


def code_to_hex(code: npt.ArrayLike) -> str:
    """The lower-case hex string of one ``uint8[32]`` code."""
    return as_code(code).tobytes().hex()


def as_codes(codes: npt.ArrayLike) -> Codes:
    """``codes`` as a C-contiguous ``uint8[n, 32]`` array, or :class:`InvalidCodes`."""
    array = np.asarray(codes)
    if array.dtype != np.uint8:
        raise InvalidCodes(f"codes must be uint8, not {array.dtype}")
    if array.ndim != 2 or array.shape[1] != CODE_BYTES:
        raise InvalidCodes(f"codes must have shape (n, {CODE_BYTES}), not {array.shape}")
    return np.ascontiguousarray(array)


def as_code(code: npt.ArrayLike) -> Codes:
    """``code`` as a C-contiguous ``uint8[32]`` array, or :class:`InvalidCodes`."""
    array = np.asarray(code)
    if array.dtype != np.uint8 or array.shape != (CODE_BYTES,):
        raise InvalidCodes(f"a code must be uint8 of shape ({CODE_BYTES},), not {array.shape}")
    return np.ascontiguousarray(array)


def as_ids(ids: npt.ArrayLike, count: int | None = None) -> Ids:
    """``ids`` as ``int64[n]`` (integers only, no silent wrap-around), or :class:`InvalidCodes`."""
    array = np.asarray(ids)
    if array.size == 0:
        array = array.astype(np.int64)
    if array.ndim != 1:
        raise InvalidCodes(f"ids must be one-dimensional, not shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise InvalidCodes(f"ids must be integers, not {array.dtype}")
    if array.dtype == np.uint64 and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise InvalidCodes("ids must fit in int64")
    if count is not None and array.shape[0] != count:
        raise InvalidCodes(f"{count} codes but {array.shape[0]} ids")
    return np.ascontiguousarray(array, dtype=np.int64)


def check_radius(radius: int) -> int:
    """``radius`` as a non-negative int (a radius of 256 or more matches every code)."""
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer) or radius < 0:
        raise InvalidCodes(f"radius must be a non-negative integer, not {radius!r}")
    return int(radius)
