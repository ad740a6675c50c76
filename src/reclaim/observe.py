"""What an operator watches: Prometheus metrics, and the health and readiness answers a
load balancer or systemd asks for.

Two kinds of metric. What each process does -- task and match latencies, pages crawled --
is counted where it happens, in this process's registry (a worker shows it on its own
``--metrics-port``, the web processes at ``/metrics``). What the whole installation holds
-- queue depths, the frontier, takedown notices, sightings, dead letters -- is read from
the database and the queues when Prometheus scrapes, so any process answers the same and
nothing is double-counted across replicas. No metric carries a case, a URL or a hash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reclaim.store.db import Database

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's metrics (the state collectors are added per app or worker)."""
ProcessCollector(registry=REGISTRY)

TASK_SECONDS = Histogram(
    "reclaim_task_seconds",
    "Time a background task took, by task and outcome (ok, error).",
    ["task", "outcome"],
    buckets=(0.05, 0.25, 1, 5, 15, 60, 300, 1800),
    registry=REGISTRY,
)
MATCH_SECONDS = Histogram(
    "reclaim_match_seconds",
    "Time to answer a platform's match request, by kind (hashes, file).",
    ["kind"],
    buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 1, 5, 30),
    registry=REGISTRY,
)
PAGES = Counter(
    "reclaim_crawl_urls",
    "Frontier URLs this process finished, by how they ended (fetched, failed, ...).",
    ["state"],
    registry=REGISTRY,
)


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


def _counts(session: Session, column: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).group_by(column)).all()
    return {getattr(key, "value", str(key)): int(count) for key, count in rows}


class StateCollector(Collector):
    """Gauges read from the database (and the queues, when given) at each scrape."""

    def __init__(
        self, database: Database, depths: Callable[[], Mapping[str, int]] | None = None
    ) -> None:
        self._database = database
        self._depths = depths

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        from reclaim.jobs.models import DeadLetter
        from reclaim.monitor.models import FrontierUrl, MediaWork, Sighting
        from reclaim.takedown.models import Notice

        up = GaugeMetricFamily("reclaim_database_up", "Whether the database answered (1) or not.")
        try:
            with self._database.session() as session:
                states = {
                    "reclaim_frontier_urls": ("Crawl frontier URLs by state.", FrontierUrl.state),
                    "reclaim_media_work": (
                        "Media waiting to be hashed or matched, by stage.",
                        MediaWork.stage,
                    ),
                    "reclaim_sightings": ("Sightings by review status.", Sighting.status),
                    "reclaim_takedown_notices": ("Takedown notices by state.", Notice.state),
                }
                families = []
                for name, (help_text, column) in states.items():
                    family = GaugeMetricFamily(name, help_text, labels=["state"])
                    for state, count in sorted(_counts(session, column).items()):
                        family.add_metric([state], count)
                    families.append(family)
                waiting = session.scalar(
                    select(func.count()).select_from(DeadLetter).where(DeadLetter.retried.is_(None))
                )
        except Exception:
            log.exception("metrics: the database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        yield GaugeMetricFamily(
            "reclaim_dead_letters", "Tasks failed for good, not sent back.", value=waiting or 0
        )
        if self._depths is not None:
            depth = GaugeMetricFamily(
                "reclaim_queue_depth", "Tasks waiting in each queue.", labels=["queue"]
            )
            try:
                for queue, count in sorted(self._depths().items()):
                    depth.add_metric([queue], count)
            except Exception:
                log.exception("metrics: the queues did not answer")
            else:
                yield depth


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: dict[str, str]


def readiness(database: Database) -> Readiness:
    """Whether this process can do its work: the database answers and its schema is the
    one this release needs (not mid-upgrade)."""
    try:
        current, head = database.current_revision(), database.head_revision()
    except Exception as error:
        state = f"unreachable: {type(error).__name__}"
    else:
        state = "ok" if current == head else f"schema at {current}, this release needs {head}"
    return Readiness(state == "ok", {"database": state})
