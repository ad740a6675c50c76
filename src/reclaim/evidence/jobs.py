"""The evidence task: confirmed sightings are captured without anyone asking, because
pages vanish. ``evidence.capture_confirmed`` runs every minute."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from reclaim.evidence.keys import NoSigningKey
from reclaim.evidence.service import EvidenceDesk
from reclaim.jobs.queue import Jobs, Queue, TaskSpec
from reclaim.store.envelope import KeyProblem, MasterKey

log = logging.getLogger(__name__)

CAPTURE_CONFIRMED = "evidence.capture_confirmed"


def evidence_tasks(jobs: Jobs) -> Sequence[TaskSpec]:
    warned: set[str] = set()

    def warn_once(problem: str) -> None:
        if problem not in warned:  # every minute would bury the log
            warned.add(problem)
            log.warning("confirmed sightings are not captured: %s", problem)

    def desk() -> EvidenceDesk | None:
        try:
            master = MasterKey.load(jobs.settings.resolved_master_key_file)
        except KeyProblem as error:
            warn_once(str(error))
            return None
        return jobs.resource(
            "evidence",
            lambda: EvidenceDesk(jobs.database(), jobs.settings, master),
            EvidenceDesk.close,
        )

    def capture_confirmed() -> None:
        evidence = desk()
        if evidence is None:
            return
        try:
            evidence.capture_confirmed()
        except NoSigningKey as error:
            warn_once(str(error))

    return (TaskSpec(CAPTURE_CONFIRMED, capture_confirmed, Queue.CAPTURE, every_minutes=1),)
