"""The dead-letter list: tasks that failed after their last retry, kept for a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reclaim.store.base import Base, UtcDateTime, utcnow


class DeadLetter(Base):
    """A task that failed for good: what it was, with which arguments, and why."""

    __tablename__ = "job_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text)
    failed: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retried: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    """When a person sent it back to the queue (it stays listed, marked)."""
