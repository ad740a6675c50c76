"""Build the FastAPI application; every router is mounted here and only here."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from reclaim import __version__
from reclaim.banks.replica import SCOPES, Follower, MatcherCache
from reclaim.banks.shard_client import router_from_settings
from reclaim.banks.shards import Shard
from reclaim.banks.snapshot import Snapshots
from reclaim.cases.access import Access
from reclaim.cases.staff import Accounts
from reclaim.config import Settings
from reclaim.signals.hasher import FileHasher
from reclaim.store.blobs import BlobStore
from reclaim.store.db import open_database
from reclaim.store.envelope import KeyProblem, MasterKey
from reclaim.web import ops
from reclaim.web.api import disputes, match, shards, sync
from reclaim.web.api.deps import AppState
from reclaim.web.limits import BodyLimit
from reclaim.web.portal import views as portal_views
from reclaim.web.portal.security import PortalHeaders
from reclaim.web.portal.views import PortalState
from reclaim.web.shared_ratelimit import rate_limiter
from reclaim.web.ui import routes as ui_routes
from reclaim.web.ui.guard import UiState

STATIC = Path(__file__).parent / "static"


class Role(enum.StrEnum):
    """What a web process serves (``reclaim serve --role``); every process also answers
    ``/healthz``, ``/readyz`` and ``/metrics``. Processes keep no state of their own, so any
    number of each can stand behind a load balancer."""

    API = "api"
    """The platform API: matching, bank sync, disputes (/v1, documented at /docs)."""
    MATCHER = "matcher"
    """Matching only (/v1/match, /v1/match/file): processes that hold the banks' index."""
    PORTAL = "portal"
    """The survivor portal (/)."""
    UI = "ui"
    """The staff app (/staff)."""


ALL_ROLES = frozenset(Role)


def create_app(settings: Settings, roles: frozenset[Role] = ALL_ROLES) -> FastAPI:
    """The application for ``settings`` serving ``roles``; the database is migrated on
    start."""
    if not roles:
        raise ValueError("a web process needs at least one role")
    api = Role.API in roles
    matching = api or Role.MATCHER in roles

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = open_database(settings)
        hasher = FileHasher(settings)
        shard = Shard.parse(settings.matcher_shard) if settings.matcher_shard else None
        snapshots = Snapshots(settings.data_dir / "matchers", shard) if matching else None
        matchers = MatcherCache(snapshots, shard)
        router = router_from_settings(settings) if api else None
        follower = None
        if matching and router is None:
            # Platforms match shared items only; a matcher shard may serve workers too.
            scopes = SCOPES[settings.matcher_scope] if Role.MATCHER in roles else (True,)
            follower = Follower(
                matchers, database, scopes=scopes, interval=settings.matcher_follow_seconds
            )
            follower.start()
        app.state.reclaim = AppState(
            settings=settings,
            database=database,
            matchers=matchers,
            limiter=rate_limiter(settings, settings.api_rate_per_minute, "api"),
            hasher=hasher,
            follower=follower,
            shards=router,
        )
        app.state.metrics = ops.state_registry(app.state.reclaim)
        app.state.portal = PortalState(
            settings=settings,
            database=database,
            access=Access(settings),
            limiter=rate_limiter(settings, settings.portal_rate_per_minute, "portal"),
            org_slug=settings.portal_org,
        )
        master = _master(settings)
        app.state.ui = UiState(
            settings=settings,
            database=database,
            accounts=Accounts(settings, master),
            limiter=rate_limiter(settings, settings.staff_rate_per_minute, "staff"),
            master=master,
            blobs=BlobStore(settings.data_dir / "blobs", master) if master else None,
        )
        try:
            yield
        finally:
            if follower is not None:
                follower.stop()
            if router is not None:
                router.close()
            hasher.close()
            database.dispose()

    app = FastAPI(
        title="Reclaim platform API",
        version=__version__,
        description=(
            "Match uploads against Reclaim's hash banks (by hash or by file) and keep a local "
            "copy of the shared banks in step with delta sync. Authenticate with "
            "`Authorization: Bearer <API key>`; keys are scoped to banks."
        ),
        lifespan=lifespan,
        docs_url="/docs" if api else None,
        redoc_url="/redoc" if api else None,
        openapi_url="/openapi.json" if api else None,
    )
    routers = [match.router] if api or Role.MATCHER in roles else []
    if Role.MATCHER in roles and settings.matcher_secret:
        app.include_router(shards.router)  # API processes ask this one as a shard
    routers += [sync.router, disputes.router] if api else []
    for router in routers:
        app.include_router(router, prefix="/v1")
    app.include_router(ops.router)
    if Role.PORTAL in roles:
        app.include_router(portal_views.router)
    if Role.UI in roles:
        app.include_router(ui_routes.router)
    if roles & {Role.PORTAL, Role.UI}:
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Uploads stream to disk under their own limit (api_max_upload_bytes), registrations'
    # hashes read within portal_max_form_bytes; all else is small JSON or forms.
    app.add_middleware(
        BodyLimit,
        limit=settings.api_max_body_bytes,
        exempt=("/v1/match/file", "/register", "/case/files"),
    )
    app.add_middleware(PortalHeaders)
    return app


def _master(settings: Settings) -> MasterKey | None:
    """The installation's master key; without one the staff app cannot set up two-factor
    sign-in or show stored media (it says so)."""
    try:
        return MasterKey.load(settings.resolved_master_key_file)
    except KeyProblem:
        return None
