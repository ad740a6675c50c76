"""``POST /v1/match`` (hashes) and ``POST /v1/match/file`` (an upload, never stored)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from reclaim.banks.platform_models import ApiKey
from reclaim.banks.platforms import key_banks, log_match
from reclaim.banks.shard_client import ShardUnavailable
from reclaim.cases.models import Organisation
from reclaim.media.errors import MediaError
from reclaim.media.sandbox import WorkerStartFailed
from reclaim.observe import MATCH_SECONDS
from reclaim.signals.base import HashFormatError, Signal, UnknownSignalType
from reclaim.signals.registry import signal_from_json
from reclaim.web.api.deps import KeyDep, SessionDep, StateDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["match"])


class MatchBody(BaseModel):
    signals: list[dict[str, Any]] = Field(
        description=(
            "Signals as `reclaim hash --json` writes them, "
            'e.g. {"type": "pdq", "value": "<64 hex digits>"}. A PDQ signal may carry '
            '"dihedral" (its 8 rotation/mirror hashes, the hash itself first), "regions" '
            '([{"region", "value"}]: parts to look up too) and "grid" ({"cells": nine '
            '{"value", "quality"}, "size": [w, h]}: the hashes of its nine overlapping '
            "parts, which verify a match and find copies with an overlay)."
        )
    )


def _lookup(
    db: SessionDep, st: StateDep, key: ApiKey, signals: list[Signal]
) -> list[dict[str, Any]]:
    org = db.get(Organisation, key.org_id)
    assert org is not None
    allowed = {bank.name for bank in key_banks(db, key)}
    if st.shards is not None:  # the banks are split over matcher groups: ask them all
        try:
            each = st.shards.match_each(org_id=org.id, shared_only=True, signals=signals)
        except ShardUnavailable as error:
            raise HTTPException(503, f"{error}; nothing was looked up") from None
    else:
        each = st.matchers.match_each(db, org_id=org.id, shared_only=True, signals=signals)
    return [
        {
            "index": index,
            "type": signal.type,
            "matches": [m.to_json(with_label=False) for m in matches if m.bank in allowed],
        }
        for index, (signal, matches) in enumerate(zip(signals, each, strict=True))
    ]


@router.post("/match")
def match_hashes(body: MatchBody, key: KeyDep, db: SessionDep, st: StateDep) -> dict[str, Any]:
    """Look hashes up in the key's banks (shared items only)."""
    count, limit = len(body.signals), st.settings.api_max_batch
    if count == 0:
        raise HTTPException(422, "the batch is empty: send at least one signal")
    if count > limit:
        raise HTTPException(413, f"a batch of {count} signals is over the limit of {limit}")
    signals, errors = [], []
    for index, data in enumerate(body.signals):
        try:
            signals.append(signal_from_json(data))
        except (HashFormatError, UnknownSignalType) as exc:
            errors.append({"index": index, "error": str(exc)})
    if errors:
        raise HTTPException(
            422, {"message": "malformed signals; nothing was looked up", "errors": errors}
        )
    with MATCH_SECONDS.labels("hashes").time():
        results = _lookup(db, st, key, signals)
    log_match(
        db, key=key, kind="hashes", signals=count, matches=sum(len(r["matches"]) for r in results)
    )
    return {"results": results}


@router.post(
    "/match/file",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "required": True,
        }
    },
)
async def match_file(request: Request, key: KeyDep, db: SessionDep, st: StateDep) -> dict[str, Any]:
    """Hash the request body (an image or video, as raw bytes) and look it up.

    The file is decoded in an isolated worker and deleted afterwards; it is never stored.
    """
    limit = st.settings.api_max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload is over the limit of {limit:,} bytes")
    folder = st.settings.data_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    handle, path = tempfile.mkstemp(dir=folder, prefix="upload-")
    try:
        size = 0
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"the upload is over the limit of {limit:,} bytes")
                out.write(chunk)
        if size == 0:
            raise HTTPException(422, "the upload is empty")
        try:
            result = await run_in_threadpool(st.hasher.hash, path)
        except WorkerStartFailed as error:
            log.error("cannot hash an upload: %s", error)
            raise HTTPException(
                503, "the service cannot decode files just now", headers={"Retry-After": "60"}
            ) from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    if isinstance(result, MediaError):
        raise HTTPException(422, {"kind": result.kind, "message": result.reason})
    with MATCH_SECONDS.labels("file").time():  # the lookup; hashing the upload is apart
        results = await run_in_threadpool(_lookup, db, st, key, list(result.signals))
    matches = [m for r in results for m in r["matches"]]
    log_match(db, key=key, kind="file", signals=len(result.signals), matches=len(matches))
    return {"type": result.kind.value, "matches": matches}
