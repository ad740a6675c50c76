"""What the API routers share: application state, sessions, key authentication."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from reclaim.banks.matcher import MatcherCache
from reclaim.banks.platform_models import ApiKey
from reclaim.banks.platforms import AuthError, authenticate
from reclaim.config import Settings
from reclaim.media.errors import MediaError
from reclaim.media.frames import Sampling
from reclaim.media.limits import MediaLimits
from reclaim.media.sandbox import IsolatedPool
from reclaim.signals.filehash import FileHashes, HashRequest, hash_file
from reclaim.signals.source import HashOptions
from reclaim.store.db import Database
from reclaim.web.ratelimit import RateLimiter


class FileHasher:
    """Hashes uploads in the isolated decoding workers (one at a time per process)."""

    def __init__(self, settings: Settings) -> None:
        self._options = HashOptions(
            sampling=Sampling(fps=settings.video_sample_fps),
            limits=MediaLimits.from_settings(settings),
            query_regions=True,
        )
        self._pool: IsolatedPool[HashRequest, FileHashes] = IsolatedPool(
            hash_file,
            workers=1,
            memory_bytes=self._options.limits.memory_bytes,
            timeout_seconds=self._options.limits.timeout_seconds,
        )
        self._lock = threading.Lock()

    def hash(self, path: str) -> FileHashes | MediaError:
        with self._lock:
            return next(self._pool.map([HashRequest(path, self._options)]))

    def close(self) -> None:
        self._pool.close()


@dataclass
class AppState:
    settings: Settings
    database: Database
    matchers: MatcherCache
    limiter: RateLimiter
    hasher: FileHasher


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
