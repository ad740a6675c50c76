"""Every package's task provider, in one list: a worker runs all of them."""

from __future__ import annotations

from collections.abc import Sequence

from reclaim.evidence.jobs import evidence_tasks
from reclaim.jobs.queue import Provider
from reclaim.monitor.jobs import monitor_tasks
from reclaim.survivor.jobs import survivor_tasks
from reclaim.takedown.jobs import takedown_tasks

PROVIDERS: Sequence[Provider] = (monitor_tasks, evidence_tasks, takedown_tasks, survivor_tasks)
