"""``POST /v1/disputes``: a platform reports a false match for review."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from reclaim.banks.platforms import open_dispute
from reclaim.cases.service import NotFound
from reclaim.web.api.deps import KeyDep, SessionDep

router = APIRouter(tags=["disputes"])


class DisputeBody(BaseModel):
    item_id: str = Field(max_length=32)
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/disputes", status_code=202)
def dispute(body: DisputeBody, key: KeyDep, db: SessionDep) -> dict[str, Any]:
    """Queue a dispute of an item in one of the key's banks; a person reviews it."""
    try:
        opened = open_dispute(db, key=key, item_id=body.item_id, reason=body.reason)
    except NotFound:
        raise HTTPException(404, f"no item {body.item_id!r} for this key") from None
    return {"dispute_id": opened.public_id, "status": opened.status.value}
