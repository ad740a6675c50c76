"""Who may do what: the roles of the people who work on cases.

The staff app keeps its users and their roles; whatever acts on their behalf (the app, the
command line) hands the stage an :class:`Actor`, and the stage checks the role.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    """Everything a case worker does, and the organisation's accounts."""
    CASE_WORKER = "case_worker"
    """Opens and runs cases: reviews sightings, drafts and approves notices."""
    REVIEWER = "reviewer"
    """Reviews sightings and approves what leaves; does not open or change cases."""
    AUDITOR = "auditor"
    """Reads everything, changes nothing, never sees media."""


APPROVERS = frozenset({Role.ADMIN, Role.CASE_WORKER, Role.REVIEWER})
"""Roles that may approve what leaves the organisation (evidence exports, notices). A
second approval (``takedown_approvals``) or, for exports, a second person is asked for on
top of the role."""
CASE_WORKERS = frozenset({Role.ADMIN, Role.CASE_WORKER})
"""Roles that open cases and change them (notes, URLs, drafts, export requests)."""
REVEALERS = frozenset({Role.ADMIN, Role.CASE_WORKER, Role.REVIEWER})
"""Roles that may reveal media (each reveal logged); never an auditor."""
EVERYONE = frozenset(Role)


class NotAllowed(PermissionError):
    """The person's role does not allow this."""


@dataclass(frozen=True, slots=True)
class Actor:
    """A person acting, as the records name her: a stable name and her role."""

    name: str
    role: Role

    def require(self, roles: frozenset[Role], what: str) -> None:
        """Raise :class:`NotAllowed` unless the role is one of ``roles``."""
        if self.role not in roles:
            allowed = ", ".join(sorted(role.value for role in roles))
            raise NotAllowed(f"{self.name} ({self.role.value}) may not {what}: needs {allowed}")
