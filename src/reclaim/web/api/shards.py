"""A matcher shard's side of the banks split over matcher groups (:mod:`reclaim.banks.shards`).

A matcher process started with ``RECLAIM_MATCHER_SHARD=k/n`` holds shard k and answers
``POST /internal/match`` -- each signal's matches before negative-bank suppression, labels
included, and the banked pictures its anchored regions matched -- to callers that present
``RECLAIM_MATCHER_SECRET`` (without a secret configured the route does not exist). The
callers' side is :mod:`reclaim.banks.shard_client`.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, Field

from reclaim.banks.anchored_lookup import AnchoredFormatError, AnchoredQuery
from reclaim.banks.shard_client import SECRET_HEADER
from reclaim.signals.base import HashFormatError, UnknownSignalType
from reclaim.signals.registry import signal_from_json
from reclaim.web.api.deps import SessionDep, StateDep

router = APIRouter(include_in_schema=False)


class ShardQuery(BaseModel):
    org_id: int
    shared_only: bool
    signals: list[dict[str, Any]] = Field(max_length=10_000)
    anchored: list[dict[str, Any] | None] | None = Field(
        default=None,
        max_length=10_000,
        description="Per signal, its anchored regions' codes (AnchoredQuery.to_json) or null.",
    )


@router.post("/internal/match")
def shard_match(
    body: ShardQuery,
    db: SessionDep,
    st: StateDep,
    secret: str = Header("", alias=SECRET_HEADER),
) -> dict[str, Any]:
    """This shard's matches of each signal, unmerged (for API processes and workers)."""
    expected = st.settings.matcher_secret
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise HTTPException(403, "not a Reclaim process of this installation")
    anchored = body.anchored if body.anchored is not None else [None] * len(body.signals)
    if len(anchored) != len(body.signals):
        raise HTTPException(422, "anchored: one entry (or null) per signal")
    try:
        signals = [signal_from_json(data) for data in body.signals]
        queries = [None if a is None else AnchoredQuery.from_json(a) for a in anchored]
    except (HashFormatError, UnknownSignalType, AnchoredFormatError) as error:
        raise HTTPException(422, str(error)) from None
    each = st.matchers.match_for_shard(
        db, org_id=body.org_id, shared_only=body.shared_only, signals=signals, anchored=queries
    )
    return {
        "shard": None if st.matchers.shard is None else str(st.matchers.shard),
        "results": [[m.to_json() for m in matches] for matches, _ in each],
        "anchored": [[c.to_json() for c in candidates] for _, candidates in each],
    }
