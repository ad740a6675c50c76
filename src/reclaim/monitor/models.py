"""Tables of the monitor: sources, their crawl frontier, media already hashed, sightings.

The frontier lives in the database so that a crawl survives a crash or a restart and
never holds more than a batch of URLs in memory however large it grows. Media are
remembered by URL (with the validators the server gave) and by SHA-256, so the same file
is neither downloaded again while unchanged nor hashed twice wherever it turns up.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from reclaim.store.base import Base, UtcDateTime, enum_values, utcnow


class Source(Base):
    """Where the monitor looks: a start URL, what kind of place it is, and how to crawl it."""

    __tablename__ = "monitor_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    """Set for a URL reported in a case (its sightings belong to that case too)."""
    kind: Mapped[str] = mapped_column(String(16))
    """A name from :data:`reclaim.monitor.sources.SOURCE_KINDS`."""
    url: Mapped[str] = mapped_column(Text)
    same_host: Mapped[bool] = mapped_column(Boolean, default=True)
    path_prefix: Mapped[str | None] = mapped_column(Text, nullable=True)
    max_depth: Mapped[int] = mapped_column(Integer)
    max_pages: Mapped[int] = mapped_column(Integer)
    max_per_host: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """URLs of one host per round (a crawl that leaves its start host; None: no cap)."""
    media: Mapped[str] = mapped_column(String(16), default="any", server_default="any")
    """Which media to fetch: ``any``, ``images`` or ``videos``."""
    obey_robots: Mapped[bool] = mapped_column(Boolean, default=True)
    render: Mapped[bool] = mapped_column(Boolean, default=False)
    """Pages need a JavaScript render before their media can be read."""
    recrawl_hours: Mapped[float] = mapped_column(Float, default=0.0)
    """Crawl again this long after a crawl ends (0: once)."""
    min_delay: Mapped[float] = mapped_column(Float, default=1.0)
    """Seconds between two requests to one host (robots.txt may ask for more)."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    round: Mapped[int] = mapped_column(Integer, default=0)
    """The current crawl of this source (each recrawl is a new round)."""
    next_run: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    """When the next round is due (None: not scheduled)."""
    last_started: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_finished: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class UrlState(enum.StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    """A worker is fetching it (``claimed_by`` says which)."""
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not fetched: robots.txt, or a trap rule (``detail`` says which)."""


class FrontierUrl(Base):
    """One URL of a source's crawl: queued, being fetched, or what became of it."""

    __tablename__ = "monitor_frontier"
    __table_args__ = (
        UniqueConstraint("source_id", "url_key"),
        Index("ix_monitor_frontier_source_state", "source_id", "state", "depth"),
        Index("ix_monitor_frontier_source_host", "source_id", "round", "host"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("monitor_sources.id"))
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the URL: a fixed-width key however long the URL."""
    host: Mapped[str] = mapped_column(String(255), default="", server_default="")
    """``host[:port]`` of the URL, for the per-host cap."""
    role: Mapped[str] = mapped_column(String(16))
    """How to read it: ``page``, ``listing`` (sitemap or feed) or ``channel``."""
    depth: Mapped[int] = mapped_column(Integer)
    chain: Mapped[int] = mapped_column(Integer, default=0)
    """How many links in a row led here between URLs of the same shape (a trap measure)."""
    state: Mapped[UrlState] = mapped_column(
        Enum(UrlState, native_enum=False, length=16, values_callable=enum_values),
        default=UrlState.QUEUED,
    )
    round: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class MediaFile(Base):
    """The signals of one file, by its SHA-256: hashed once wherever it turns up."""

    __tablename__ = "monitor_media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why it could not be hashed (a damaged or hostile file), if it could not."""
    hashed: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MediaUrl(Base):
    """What one media URL answered last time, so an unchanged file is not fetched again."""

    __tablename__ = "monitor_media_urls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url_key: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    etag: Mapped[str | None] = mapped_column(String(256), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(64), nullable=True)
    checked: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WorkStage(enum.StrEnum):
    HASH = "hash"
    """The file's hashes are wanted: made from its spooled copy, or awaited from another
    work of the same file that has one."""
    MATCH = "match"
    """The hashes are stored: match them and record sightings."""


class MediaWork(Base):
    """A medium a fetch worker met, on its way through the ``hash`` and ``match`` queues.

    The row is the work's real state (the queues only carry its id): it is claimed by
    the worker doing a stage, moved on, and deleted with its spooled file when done, so a
    task lost with its worker or its queue is found again and redone."""

    __tablename__ = "monitor_media_work"
    __table_args__ = (Index("ix_monitor_media_work_stage", "stage", "claimed_by"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    source_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The source whose crawl met it (no foreign key: a source may go while work waits)."""
    page_url: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    spooled: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The file's name in the spool (None: not downloaded now; its hashes are stored or
    awaited)."""
    spool_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    query: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The hash stage's query, spooled for the match stage: the signals with the pixels
    of their views, which the robust matcher's crop and overlay checks need (stored
    signals keep only the hashes)."""
    query_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    query_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    query_size: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[WorkStage] = mapped_column(
        Enum(WorkStage, native_enum=False, length=16, values_callable=enum_values)
    )
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Claims of the current stage."""
    queued: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    """When its current stage's task was last put in a queue."""
    created: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SightingStatus(enum.StrEnum):
    NEW = "new"
    UNDER_REVIEW = "under_review"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Sighting(Base):
    """A banked item found on the web: where, when, and the match evidence."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("item_id", "media_sha256", "media_url_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("bank_items.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitor_sources.id"), index=True, nullable=True
    )
    page_url: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str] = mapped_column(Text)
    media_url_key: Mapped[str] = mapped_column(String(64))
    media_sha256: Mapped[str] = mapped_column(String(64), index=True)
    match: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[SightingStatus] = mapped_column(
        Enum(SightingStatus, native_enum=False, length=16, values_callable=enum_values),
        default=SightingStatus.NEW,
    )
    thumbnail_blob_id: Mapped[str | None] = mapped_column(ForeignKey("blobs.id"), nullable=True)
    """The encrypted thumbnail (a blob of the case), for review behind a blurred preview;
    None for a minor's case, a sighting of no case, or media no longer on hand."""
