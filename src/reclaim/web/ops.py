"""``/healthz`` (the process answers), ``/readyz`` (it can work: database reachable and at
this release's schema; a matching process has also loaded its banks) and ``/metrics``
(Prometheus; only to the networks in ``RECLAIM_METRICS_ALLOW_NETWORKS``, loopback by
default)."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool

from reclaim.config import parse_networks
from reclaim.observe import CONTENT_TYPE, Readiness, StateCollector, exposition, readiness
from reclaim.web.api.deps import AppState, state

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    st: AppState = state(request)
    result = await run_in_threadpool(readiness, st.database)
    if st.follower is not None:  # a matcher takes no lookups before its banks are loaded
        loaded = st.follower.ready.is_set()
        checks = {**result.checks, "matchers": "ok" if loaded else "loading"}
        result = Readiness(result.ready and loaded, checks)
    return JSONResponse(
        {"ready": result.ready, "checks": result.checks},
        status_code=200 if result.ready else 503,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    st: AppState = state(request)
    allowed = parse_networks(st.settings.metrics_allow_networks)
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not any(address in network for network in allowed):
        raise HTTPException(403, "metrics are not served to this address")
    registry = request.app.state.metrics
    body = await run_in_threadpool(lambda: exposition() + exposition(registry))
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def state_registry(st: AppState) -> CollectorRegistry:
    """The installation-wide gauges, read from this app's database at each scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(st.database))
    return registry
