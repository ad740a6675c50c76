"""Asking the matcher shards (:mod:`reclaim.banks.shards`) over HTTP, for API processes
and workers configured with ``RECLAIM_MATCHER_SHARDS`` (one base URL per shard, in shard
order; a load balancer in front of each group's replicas).

Every lookup goes to every shard at once (``POST /internal/match`` with
``RECLAIM_MATCHER_SECRET``, :mod:`reclaim.web.api.shards`) and their answers are merged. A
shard that cannot be reached after one retry, or answers anything but a well-formed 200,
fails the whole lookup (:class:`ShardUnavailable`): a partial answer would silently miss
matches.

A signal's JSON form travels (the hash, its variants, regions and grid), and for a picture
whose pixels the caller holds (a file uploaded to ``/v1/match/file``, a medium the monitor
just hashed) the codes of its anchored regions too: each shard answers the banked
pictures they matched, and the caller places them in the pixels, which never leave it
(:mod:`reclaim.banks.anchored_lookup`). A crop or a turned copy is found as without
shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from reclaim.banks.anchored_lookup import AnchoredCandidate, AnchoredQuery
from reclaim.banks.match import Match
from reclaim.banks.shards import merge_answers
from reclaim.cases.models import Organisation
from reclaim.config import Settings
from reclaim.matching.anchored import QueryAnchoring
from reclaim.matching.views import QueryViews
from reclaim.signals.base import Signal
from reclaim.signals.pdq import PDQ_MIN_QUALITY, PdqSignal

SECRET_HEADER = "X-Reclaim-Matcher-Secret"  # noqa: S105 - a header name, not a secret
_CONCURRENT = 40
"""Lookups in flight to each shard at once: as many as the API's request threads."""


class ShardUnavailable(Exception):
    """A shard did not answer a lookup properly; nothing is answered from the others."""


@dataclass(frozen=True, slots=True)
class _Asked:
    """One lookup as sent: the body, and per signal its anchored regions and what was
    sent of them (None when it carries no pixels)."""

    body: dict[str, Any]
    anchored: list[tuple[QueryAnchoring, AnchoredQuery] | None]


_Answer = tuple[list[list[Match]], list[list[AnchoredCandidate]]]


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
        """Each signal's matches from all shards, merged; a picture whose pixels are at
        hand also through its anchored regions, placed here."""
        asked = _ask_for(org_id, shared_only, signals)
        pending = [
            self._pool.submit(self._ask, number, len(signals), asked)
            for number in range(len(self.urls))
        ]
        answers = [future.result() for future in pending]
        return [
            merge_answers([(m[index], c[index]) for m, c in answers], asked.anchored[index])
            for index in range(len(signals))
        ]

    def _ask(self, number: int, count: int, asked: _Asked) -> _Answer:
        url, client = self.urls[number], self._clients[number]
        problem = ""
        for _ in range(2):  # one retry: a replica behind the balancer may have just gone
            try:
                answer = client.post(
                    "/internal/match", json=asked.body, headers={SECRET_HEADER: self._secret}
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
                parsed = _parsed(answer.json(), count, asked)
            except (ValueError, KeyError, TypeError) as error:
                problem = f"answered something else than matches ({type(error).__name__}: {error})"
                break
            if parsed is None:
                problem = f"answered for another number of signals than {count}"
                break
            return parsed
        raise ShardUnavailable(f"matcher shard {number} at {url} {problem}")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        for client in self._clients:
            client.close()


def _ask_for(org_id: int, shared_only: bool, signals: Sequence[Signal]) -> _Asked:
    """The body of a lookup, with the anchored regions of each picture whose pixels are
    at hand (analysed here, once for all shards; not below PDQ's quality floor, where no
    shard looks anything up)."""
    anchored: list[tuple[QueryAnchoring, AnchoredQuery] | None] = []
    for signal in signals:
        if (
            isinstance(signal, PdqSignal)
            and signal.quality >= PDQ_MIN_QUALITY
            and isinstance(signal.views, QueryViews)
        ):
            query = signal.views.anchoring
            anchored.append((query, AnchoredQuery.of(query)))
        else:
            anchored.append(None)
    body: dict[str, Any] = {
        "org_id": org_id,
        "shared_only": shared_only,
        "signals": [signal.to_json() for signal in signals],
    }
    if any(a is not None for a in anchored):
        body["anchored"] = [None if a is None else a[1].to_json() for a in anchored]
    return _Asked(body, anchored)


def _parsed(data: Any, count: int, asked: _Asked) -> _Answer | None:
    """A shard's answer, checked (None: not one entry per signal)."""
    results = [[Match.from_json(m) for m in matches] for matches in data["results"]]
    candidates: list[list[AnchoredCandidate]] = [[] for _ in range(count)]
    if "anchored" in asked.body:
        if "anchored" not in data:  # a shard of an older version: it would miss crops
            raise ValueError("no anchored candidates in the answer (is the shard older?)")
        raw = data["anchored"]
        if len(raw) != count:
            return None
        for index, entries in enumerate(raw):
            sent = asked.anchored[index]
            if entries and sent is None:
                raise ValueError("candidates for a signal sent without anchored regions")
            if sent is not None:
                candidates[index] = [
                    AnchoredCandidate.from_json(entry, len(sent[1].codes)) for entry in entries
                ]
    if len(results) != count:
        return None
    return results, candidates


class ShardedMatchers:
    """The workers' matchers when the banks are split over shards: the lookups of
    :class:`reclaim.banks.replica.MatcherCache`, asked of the shards."""

    def __init__(self, router: ShardRouter) -> None:
        self.router = router

    def match(
        self, session: Session, *, org: Organisation, shared_only: bool, signals: Sequence[Signal]
    ) -> list[Match]:
        """Every match of ``signals``, negative-bank suppression applied, closest first."""
        each = self.router.match_each(org_id=org.id, shared_only=shared_only, signals=signals)
        found = [match for matches in each for match in matches]
        return sorted(found, key=lambda m: (m.distance, m.bank, m.item_id))

    def close(self) -> None:
        self.router.close()


def router_from_settings(settings: Settings) -> ShardRouter | None:
    """The router to ``RECLAIM_MATCHER_SHARDS`` (None when empty: match in-process)."""
    urls = [u.strip() for u in settings.matcher_shards.split(",") if u.strip()]
    if not urls:
        return None
    if not settings.matcher_secret:
        raise ValueError("RECLAIM_MATCHER_SHARDS needs RECLAIM_MATCHER_SECRET (the shards' too)")
    return ShardRouter(urls, settings.matcher_secret)
