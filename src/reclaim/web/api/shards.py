"""The banks split over matcher groups (:mod:`reclaim.banks.shards`), over HTTP.

A matcher process started with ``RECLAIM_MATCHER_SHARD=k/n`` holds shard k and answers
``POST /internal/match`` -- each signal's matches before negative-bank suppression, labels
included -- to callers that present ``RECLAIM_MATCHER_SECRET`` (without a secret
configured the route does not exist). API processes with ``RECLAIM_MATCHER_SHARDS`` (one
base URL per shard, in shard order; a load balancer in front of each group's replicas)
ask every shard at once and merge. A shard that cannot be reached after one retry, or
answers anything but a well-formed 200, fails the whole lookup with 503: a partial answer
would silently miss matches.

Only what a signal's JSON form carries travels (the hash, its variants, regions and grid),
so with shards a file uploaded to ``/v1/match/file`` is looked up without the anchored
placement that needs its pixels (crops and turned copies; see the README's matching
section).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, Field

from reclaim.banks.matcher import Match, merge
from reclaim.signals.base import HashFormatError, Signal, UnknownSignalType
from reclaim.signals.registry import signal_from_json
from reclaim.web.api.deps import SessionDep, StateDep

router = APIRouter(include_in_schema=False)
SECRET_HEADER = "X-Reclaim-Matcher-Secret"  # noqa: S105 - a header name, not a secret
_CONCURRENT = 40
"""Lookups in flight to each shard at once: as many as the API's request threads."""


class ShardUnavailable(Exception):
    """A shard did not answer a lookup properly; nothing is answered from the others."""


class ShardQuery(BaseModel):
    org_id: int
    shared_only: bool
    signals: list[dict[str, Any]] = Field(max_length=10_000)


@router.post("/internal/match")
def shard_match(
    body: ShardQuery,
    db: SessionDep,
    st: StateDep,
    secret: str = Header("", alias=SECRET_HEADER),
) -> dict[str, Any]:
    """This shard's matches of each signal, unmerged (for API processes only)."""
    expected = st.settings.matcher_secret
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise HTTPException(403, "not a Reclaim API process of this installation")
    try:
        signals = [signal_from_json(data) for data in body.signals]
    except (HashFormatError, UnknownSignalType) as error:
        raise HTTPException(422, str(error)) from None
    each = st.matchers.match_each(
        db, org_id=body.org_id, shared_only=body.shared_only, signals=signals, merged=False
    )
    return {
        "shard": None if st.matchers.shard is None else str(st.matchers.shard),
        "results": [[m.to_json() for m in matches] for matches in each],
    }


class ShardRouter:
    """Asks every shard and merges their answers (see the module docstring)."""

    def __init__(self, urls: Sequence[str], secret: str, *, timeout: float = 30.0) -> None:
        if not urls:
            raise ValueError("no shard URLs")
        self.urls = list(urls)
        self._secret = secret
        limits = httpx.Limits(max_connections=_CONCURRENT, max_keepalive_connections=_CONCURRENT)
        self._clients = [
            httpx.Client(base_url=url, timeout=timeout, trust_env=False, limits=limits)
            for url in self.urls
        ]
        # Every request the API handles at once asks every shard at once.
        self._pool = ThreadPoolExecutor(_CONCURRENT * len(self.urls), thread_name_prefix="shard")

    def match_each(
        self, *, org_id: int, shared_only: bool, signals: Sequence[Signal]
    ) -> list[list[Match]]:
        body = {
            "org_id": org_id,
            "shared_only": shared_only,
            "signals": [signal.to_json() for signal in signals],
        }
        asked = [
            self._pool.submit(self._ask, number, len(signals), body)
            for number in range(len(self.urls))
        ]
        answers = [future.result() for future in asked]
        return [merge(answer[index] for answer in answers) for index in range(len(signals))]

    def _ask(self, number: int, count: int, body: dict[str, Any]) -> list[list[Match]]:
        url, client = self.urls[number], self._clients[number]
        problem = ""
        for _ in range(2):  # one retry: a replica behind the balancer may have just gone
            try:
                answer = client.post(
                    "/internal/match", json=body, headers={SECRET_HEADER: self._secret}
                )
            except httpx.TransportError as error:
                problem = f"unreachable ({type(error).__name__})"
                continue
            if answer.status_code != 200:
                problem = f"answered {answer.status_code}"
                if answer.status_code < 500:
                    break
                continue
            try:
                results = answer.json()["results"]
                parsed = [[Match.from_json(m) for m in matches] for matches in results]
            except (ValueError, KeyError, TypeError) as error:
                problem = f"answered something else than matches ({type(error).__name__})"
                break
            if len(parsed) != count:
                problem = f"answered for {len(parsed)} signals, not {count}"
                break
            return parsed
        raise ShardUnavailable(f"matcher shard {number} at {url} {problem}")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        for client in self._clients:
            client.close()
