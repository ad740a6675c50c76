"""What the API routers share: application state, sessions, key authentication."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from reclaim.banks.platform_models import ApiKey
from reclaim.banks.platforms import AuthError, authenticate
from reclaim.banks.replica import Follower, MatcherCache
from reclaim.config import Settings
from reclaim.signals.hasher import FileHasher
from reclaim.store.db import Database
from reclaim.web.ratelimit import Limiter

if TYPE_CHECKING:
    from reclaim.banks.shard_client import ShardRouter


@dataclass
class AppState:
    settings: Settings
    database: Database
    matchers: MatcherCache
    limiter: Limiter
    hasher: FileHasher
    follower: Follower | None = None
    """Loads and follows the matchers (processes that serve /v1/match)."""
    shards: ShardRouter | None = None
    """Asks the matcher shards instead (RECLAIM_MATCHER_SHARDS)."""


def state(request: Request) -> AppState:
    app_state: AppState = request.app.state.reclaim
    return app_state


def session(request: Request) -> Iterator[Session]:
    with state(request).database.session() as db_session:
        yield db_session


_bearer = HTTPBearer(auto_error=False)


def api_key(
    request: Request,
    db_session: Annotated[Session, Depends(session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The caller's key, rate-limited; 401 without a valid key, 429 over the limit."""
    if credentials is None:
        raise HTTPException(401, "an API key is required", headers={"WWW-Authenticate": "Bearer"})
    try:
        key = authenticate(db_session, credentials.credentials)
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    wait = state(request).limiter.take(key.key_id)
    if wait:
        raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": str(int(wait) + 1)})
    return key


SessionDep = Annotated[Session, Depends(session)]
KeyDep = Annotated[ApiKey, Depends(api_key)]
StateDep = Annotated[AppState, Depends(state)]
