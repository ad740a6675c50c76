"""The crawl frontier in the database: rounds, queueing, claiming, finishing.

Every URL a source's crawl meets is one row, keyed by the SHA-256 of its normalised form,
so it is queued once per round however many pages link to it. Workers *claim* rows
(``claimed_by`` names the process): a crash leaves claimed rows behind, and the next run
puts back those whose process is gone, so a crawl resumes where it stopped and only the
requests in flight at the crash are made again. Nothing about the frontier is held in
memory beyond one batch.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reclaim.monitor.models import FrontierUrl, Source, UrlState
from reclaim.monitor.sources import Role, source_kind
from reclaim.monitor.traps import (
    DEFAULT_MAX_CHAIN,
    chain_after,
    normalise,
    trap_reason,
    url_key,
)
from reclaim.observe import PAGES
from reclaim.store.claims import abandoned
from reclaim.store.upsert import insert_ignoring_conflicts

BATCH = 500
"""Rows looked up or written per statement."""
LEASE = timedelta(minutes=30)
"""A claim older than this, by a process on another machine, is taken to be abandoned."""


@dataclass(frozen=True, slots=True)
class Queued:
    """What queueing a page's links did."""

    added: int = 0
    trapped: int = 0
    over_limit: int = 0


def start_round(session: Session, *, source: Source, now: datetime) -> None:
    """Begin a new crawl of ``source`` at its start URL."""
    source.round += 1
    source.last_started = now
    source.next_run = None
    role = source_kind(source.kind).start_role
    start = normalise(source.url) or source.url
    _queue(session, source, [(start, role, 0, 0)], now)


def queue_links(
    session: Session,
    *,
    source: Source,
    parent: FrontierUrl,
    links: Sequence[tuple[str, Role]],
    now: datetime,
) -> Queued:
    """Queue the links found on ``parent`` (already filtered by the scope)."""
    rows: list[tuple[str, Role, int, int]] = []
    trapped = 0
    for link, role in links:
        url = normalise(link)
        if url is None or trap_reason(url) is not None:
            trapped += 1
            continue
        chain = chain_after(parent.url, parent.chain, url)
        if chain > DEFAULT_MAX_CHAIN:
            trapped += 1
            continue
        rows.append((url, role, parent.depth + 1, chain))
    added, over = _queue(session, source, rows, now)
    return Queued(added, trapped, over)


def _queue(
    session: Session,
    source: Source,
    rows: Sequence[tuple[str, Role, int, int]],
    now: datetime,
) -> tuple[int, int]:
    """Insert new URLs and requeue ones from earlier rounds; returns (queued, over limit)."""
    unique: dict[str, tuple[str, Role, int, int]] = {}
    for row in rows:
        unique.setdefault(url_key(row[0]), row)
    room = source.max_pages - _round_size(session, source)
    queued = over = 0
    fresh: list[dict[str, object]] = []
    keys = list(unique)
    per_host = _per_host(session, source, {_host(row[0]) for row in unique.values()})
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        known = dict(
            session.execute(
                select(FrontierUrl.url_key, FrontierUrl.round).where(
                    FrontierUrl.source_id == source.id, FrontierUrl.url_key.in_(chunk)
                )
            ).all()
        )
        for key in chunk:
            if key in known and known[key] >= source.round:
                continue  # already met in this round
            url, role, depth, chain = unique[key]
            host = _host(url)
            if room <= 0 or (
                source.max_per_host is not None and per_host.get(host, 0) >= source.max_per_host
            ):
                over += 1
                continue
            per_host[host] = per_host.get(host, 0) + 1
            if key in known:
                session.execute(
                    update(FrontierUrl)
                    .where(FrontierUrl.source_id == source.id, FrontierUrl.url_key == key)
                    .values(
                        state=UrlState.QUEUED,
                        round=source.round,
                        role=role.value,
                        host=host,
                        depth=depth,
                        chain=chain,
                        claimed_by=None,
                        claimed_at=None,
                        attempts=0,
                        detail="",
                    )
                )
            else:
                fresh.append(
                    {
                        "source_id": source.id,
                        "url": url,
                        "url_key": key,
                        "host": host,
                        "role": role.value,
                        "depth": depth,
                        "chain": chain,
                        "state": UrlState.QUEUED,
                        "round": source.round,
                        "attempts": 0,
                        "detail": "",
                    }
                )
            room -= 1
            queued += 1
        # A colleague may queue the same new URL at this moment: the first insert wins.
        inserted = insert_ignoring_conflicts(session, FrontierUrl, fresh)
        queued -= len(fresh) - inserted
        fresh.clear()
    return queued, over


def _host(url: str) -> str:
    return urlsplit(url).netloc[:255]


def _per_host(session: Session, source: Source, hosts: set[str]) -> dict[str, int]:
    """URLs already in this round for each of ``hosts`` (only when the source caps them)."""
    if source.max_per_host is None:
        return {}
    ordered, counts = sorted(hosts), {}
    for start in range(0, len(ordered), BATCH):
        rows = session.execute(
            select(FrontierUrl.host, func.count())
            .where(
                FrontierUrl.source_id == source.id,
                FrontierUrl.round == source.round,
                FrontierUrl.host.in_(ordered[start : start + BATCH]),
            )
            .group_by(FrontierUrl.host)
        ).all()
        counts.update({str(host): int(count) for host, count in rows})
    return counts


def _round_size(session: Session, source: Source) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(FrontierUrl)
            .where(FrontierUrl.source_id == source.id, FrontierUrl.round == source.round)
        )
        or 0
    )


def claim(
    session: Session, *, source: Source, worker: str, now: datetime, limit: int = 1
) -> list[FrontierUrl]:
    """Up to ``limit`` queued URLs of ``source``, shallowest first, now claimed by ``worker``
    (``host:pid``; each claim adds its own mark, so threads of a process never share rows).

    The update only takes rows still queued, so two workers never hold the same row; on
    PostgreSQL the candidates are also read with ``SKIP LOCKED``."""
    candidates = (
        select(FrontierUrl.id)
        .where(FrontierUrl.source_id == source.id, FrontierUrl.state == UrlState.QUEUED)
        .order_by(FrontierUrl.depth, FrontierUrl.id)
        .limit(limit)
    )
    token = f"{worker}/{secrets.token_hex(4)}"  # this claim's own mark, even within a process
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    session.execute(
        update(FrontierUrl)
        .where(FrontierUrl.id.in_(ids), FrontierUrl.state == UrlState.QUEUED)
        .values(
            state=UrlState.CLAIMED,
            claimed_by=token,
            claimed_at=now,
            attempts=FrontierUrl.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(FrontierUrl)
            .where(
                FrontierUrl.id.in_(ids),
                FrontierUrl.state == UrlState.CLAIMED,
                FrontierUrl.claimed_by == token,
            )
            .order_by(FrontierUrl.depth, FrontierUrl.id)
            .execution_options(populate_existing=True)
        )
    )


def finish(
    session: Session,
    *,
    url: FrontierUrl,
    state: UrlState,
    now: datetime,
    status: int | None = None,
    detail: str = "",
) -> None:
    """Record what became of a claimed URL."""
    PAGES.labels(state.value).inc()
    url.state = state
    url.status = status
    url.detail = detail[:2000]
    url.fetched_at = now
    url.claimed_by = None
    url.claimed_at = None
    session.flush()


def requeue(session: Session, *, url_id: int) -> None:
    """Put a claimed URL back in the queue (its worker is stopping before finishing it)."""
    session.execute(
        update(FrontierUrl)
        .where(FrontierUrl.id == url_id, FrontierUrl.state == UrlState.CLAIMED)
        .values(state=UrlState.QUEUED, claimed_by=None, claimed_at=None)
    )


def release_abandoned(session: Session, *, now: datetime, alive: set[str] | None = None) -> int:
    """Put back claims whose worker is gone: processes on this machine that no longer
    run (or are not in ``alive``, when given), and claims elsewhere older than the lease."""
    stale = []
    rows = session.execute(
        select(FrontierUrl.id, FrontierUrl.claimed_by, FrontierUrl.claimed_at).where(
            FrontierUrl.state == UrlState.CLAIMED
        )
    ).all()
    for row_id, owner, claimed_at in rows:
        if abandoned(owner, claimed_at, now=now, lease=LEASE, alive=alive):
            stale.append(row_id)
    for start in range(0, len(stale), BATCH):
        session.execute(
            update(FrontierUrl)
            .where(
                FrontierUrl.id.in_(stale[start : start + BATCH]),
                FrontierUrl.state == UrlState.CLAIMED,
            )
            .values(state=UrlState.QUEUED, claimed_by=None, claimed_at=None)
        )
    return len(stale)


def round_open(session: Session, *, source: Source) -> bool:
    """Whether the source's current round still has URLs queued or being fetched."""
    pending = session.scalar(
        select(FrontierUrl.id)
        .where(
            FrontierUrl.source_id == source.id,
            FrontierUrl.state.in_((UrlState.QUEUED, UrlState.CLAIMED)),
        )
        .limit(1)
    )
    return pending is not None


def counts(session: Session, *, source: Source) -> dict[str, int]:
    """How many of the current round's URLs are in each state."""
    rows = session.execute(
        select(FrontierUrl.state, func.count())
        .where(FrontierUrl.source_id == source.id, FrontierUrl.round == source.round)
        .group_by(FrontierUrl.state)
    ).all()
    return {str(state): int(n) for state, n in rows}
