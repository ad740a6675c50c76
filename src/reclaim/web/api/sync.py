"""``GET /v1/banks/{bank}/hashes``: delta sync of a bank's shared items by cursor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from reclaim.banks.platforms import BadCursor, scoped_bank, sync_page
from reclaim.cases.service import NotFound
from reclaim.web.api.deps import KeyDep, SessionDep, StateDep

router = APIRouter(tags=["sync"])


@router.get("/banks/{bank}/hashes")
def bank_hashes(
    bank: str,
    key: KeyDep,
    db: SessionDep,
    st: StateDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Every shared add and withdrawal since ``cursor``, in order.

    Start without a cursor; pass back ``cursor`` from each page until ``more`` is false,
    and again later for what changed since. A withdrawal is a tombstone with the item id.
    """
    try:
        found = scoped_bank(db, key, bank)
    except NotFound:
        raise HTTPException(404, f"no bank {bank!r} for this key") from None
    page_size = min(limit or st.settings.api_sync_page_max, st.settings.api_sync_page_max)
    try:
        page = sync_page(db, bank=found, cursor=cursor, limit=page_size)
    except BadCursor as exc:
        raise HTTPException(400, str(exc)) from None
    return {"records": page.records, "cursor": page.cursor, "more": page.more}
