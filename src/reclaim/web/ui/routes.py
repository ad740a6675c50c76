"""Every staff page, in one router (importing the modules declares their routes)."""

from __future__ import annotations

from reclaim.web.ui import admin, approvals, auth, cases, review  # noqa: F401 - declares routes
from reclaim.web.ui.guard import RULES, router

__all__ = ["RULES", "router"]
