"""Saving and loading a :class:`~reclaim.index.pdq.PdqIndex` snapshot (see :mod:`.files`).

The main segment is saved as it is, tables included, so loading builds nothing: with
``mmap`` it maps the files and is ready in milliseconds. The delta is saved as its live
rows. Loading checks everything that is cheap to check -- the manifest, every array's
dtype, shape and size, that ids are sorted and unique, that the table offsets start and end
where they must -- and the compiled loops bound-check every offset they follow, so a
damaged file gives :class:`~reclaim.index.errors.IndexCorrupt` instead of a crash. Bit rot
inside the codes is only caught by ``verify=True`` (SHA-256 of every file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reclaim.index.codes import CODE_BYTES
from reclaim.index.errors import IndexCorrupt
from reclaim.index.files import AnyArray, read_arrays, write_arrays
from reclaim.index.params import MihParams
from reclaim.index.segment import Delta, MainSegment, Snapshot, count_bits, readonly

KIND = "reclaim.pdq-index"
_ARRAYS = (
    "main_codes",
    "main_ids",
    "main_postings",
    "main_rel",
    "main_base",
    "main_dead",
    "delta_codes",
    "delta_ids",
)
_REL_DTYPES = ("|u1", "<u2", "<u4")


def save_pdq(path: Path, snapshot: Snapshot, params: MihParams | None) -> None:
    """Write ``snapshot`` (and the index's fixed ``params``, if any) to ``path``."""
    main = snapshot.main
    delta_codes, delta_ids = snapshot.delta.live()
    arrays: dict[str, AnyArray] = {
        "main_codes": main.codes,
        "main_ids": main.ids,
        "main_postings": main.postings,
        "main_rel": main.rel,
        "main_base": main.base,
        "main_dead": snapshot.main_dead,
        "delta_codes": delta_codes,
        "delta_ids": delta_ids,
    }
    meta = {
        "main_params": _params_json(main.params),
        "index_params": None if params is None else _params_json(params),
        "live": snapshot.live,
    }
    write_arrays(path, KIND, meta, arrays)


def load_pdq(path: Path, *, mmap: bool, verify: bool) -> tuple[Snapshot, MihParams | None]:
    """The snapshot and fixed params saved in ``path``; raises :class:`IndexCorrupt`."""
    meta, arrays = read_arrays(path, KIND, _ARRAYS, mmap=mmap, verify=verify)
    main_params = _params_from(meta.get("main_params"), path)
    raw_index_params = meta.get("index_params")
    index_params = None if raw_index_params is None else _params_from(raw_index_params, path)
    main = MainSegment(
        codes=arrays["main_codes"],
        ids=arrays["main_ids"],
        params=main_params,
        postings=arrays["main_postings"],
        rel=arrays["main_rel"],
        base=arrays["main_base"],
    )
    _check_main(main, arrays["main_dead"], path)
    delta_codes, delta_ids = arrays["delta_codes"], arrays["delta_ids"]
    _check_delta(main, arrays["main_dead"], delta_codes, delta_ids, path)
    delta = Delta.empty(max(1024, len(delta_ids))).appended(delta_codes, delta_ids)
    dead = readonly(np.array(arrays["main_dead"]))
    live = len(main) - count_bits(dead) + len(delta_ids)
    if meta.get("live") != live:
        raise IndexCorrupt(f"{path}: {live} live codes, the manifest says {meta.get('live')}")
    return Snapshot(main, dead, delta, live), index_params


def _params_json(params: MihParams) -> dict[str, int]:
    return {"tables": params.tables, "bits": params.bits, "block_bits": params.block_bits}


def _params_from(raw: Any, path: Path) -> MihParams:
    if not isinstance(raw, dict) or set(raw) != {"tables", "bits", "block_bits"}:
        raise IndexCorrupt(f"{path}: bad table parameters {raw!r}")
    values = [raw["tables"], raw["bits"], raw["block_bits"]]
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        raise IndexCorrupt(f"{path}: bad table parameters {raw!r}")
    try:
        return MihParams(*values)
    except ValueError as error:
        raise IndexCorrupt(f"{path}: bad table parameters: {error}") from None


def _expect(array: AnyArray, dtypes: tuple[str, ...], shape: tuple[int, ...], what: str) -> None:
    if array.dtype.str not in dtypes or array.shape != shape:
        raise IndexCorrupt(f"{what} is {array.dtype} {array.shape}, expected {dtypes} {shape}")


def _check_main(main: MainSegment, dead: AnyArray, path: Path) -> None:
    rows, params = len(main), main.params
    _expect(main.ids, ("<i8",), (rows,), f"{path}: main_ids")
    _expect(main.codes, ("|u1",), (rows, CODE_BYTES), f"{path}: main_codes")
    _expect(dead, ("<u8",), ((rows + 63) // 64,), f"{path}: main_dead")
    if rows > 1 and not bool(np.all(main.ids[1:] > main.ids[:-1])):
        raise IndexCorrupt(f"{path}: main ids are not sorted and unique")
    tables = params.tables
    _expect(main.postings, ("<u4",), (tables, rows), f"{path}: main_postings")
    if tables == 0:
        _expect(main.rel, _REL_DTYPES, (0, 0), f"{path}: main_rel")
        _expect(main.base, ("<u4",), (0, 0), f"{path}: main_base")
        return
    size = 1 << params.bits
    _expect(main.rel, _REL_DTYPES, (tables, size + 1), f"{path}: main_rel")
    _expect(main.base, ("<u4",), (tables, (size >> params.block_bits) + 1), f"{path}: main_base")
    if bool(np.any(main.base[:, 0] != 0)) or bool(np.any(main.base[:, -1] != rows)):
        raise IndexCorrupt(f"{path}: table offsets do not span the postings")


def _check_delta(
    main: MainSegment, dead: AnyArray, codes: AnyArray, ids: AnyArray, path: Path
) -> None:
    _expect(ids, ("<i8",), (ids.shape[0],), f"{path}: delta_ids")
    _expect(codes, ("|u1",), (ids.shape[0], CODE_BYTES), f"{path}: delta_codes")
    if np.unique(ids).shape[0] != ids.shape[0]:
        raise IndexCorrupt(f"{path}: delta ids repeat")
    rows = main.rows_of(np.asarray(ids))
    words = dead[rows >> 6] >> (rows & 63).astype(np.uint64)
    if bool(np.any((words & np.uint64(1)) == 0)):
        raise IndexCorrupt(f"{path}: an id is live both in the main segment and in the delta")
