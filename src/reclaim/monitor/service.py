"""Sources: adding, listing and pausing them; keyword-only functions over a session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.cases.models import Case, Organisation
from reclaim.monitor.models import Source
from reclaim.monitor.sources import source_kind
from reclaim.monitor.traps import normalise

MAX_PAGES = 1_000_000
MEDIA_CHOICES = ("any", "images", "videos")
MAX_DEPTH = 100


class SourceRefused(ValueError):
    """A source that cannot be added as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to crawl a new source; None takes the kind's default."""

    max_depth: int | None = None
    max_pages: int | None = None
    path_prefix: str | None = None
    same_host: bool = True
    render: bool = False
    recrawl_hours: float | None = None
    min_delay: float = 1.0
    max_per_host: int | None = None
    media: str = "any"
    """``any``, ``images`` or ``videos``: which media the crawl fetches."""


def add_source(
    session: Session,
    *,
    org: Organisation,
    kind: str,
    url: str,
    actor: str,
    case: Case | None = None,
    options: SourceOptions | None = None,
) -> Source:
    """A new source of ``kind`` at ``url`` (for ``case``, when one is named)."""
    options = options or SourceOptions()
    try:
        chosen = source_kind(kind)
        start = normalise(chosen.start_url(url))
    except ValueError as error:
        raise SourceRefused(str(error)) from None
    if start is None:
        raise SourceRefused(f"not a usable http(s) URL: {url!r}")
    if chosen.needs_case and case is None:
        raise SourceRefused(f"a {chosen.name} source belongs to a case: name the case")
    if case is not None and case.org_id != org.id:
        raise SourceRefused("the case belongs to another organisation")
    defaults = chosen.defaults
    depth = defaults.max_depth if options.max_depth is None else options.max_depth
    pages = defaults.max_pages if options.max_pages is None else options.max_pages
    if not 0 <= depth <= MAX_DEPTH:
        raise SourceRefused(f"depth must be 0-{MAX_DEPTH}, not {depth}")
    if not 1 <= pages <= MAX_PAGES:
        raise SourceRefused(f"max pages must be 1-{MAX_PAGES}, not {pages}")
    if options.media not in MEDIA_CHOICES:
        raise SourceRefused(
            f"media must be one of {', '.join(MEDIA_CHOICES)}, not {options.media!r}"
        )
    if options.max_per_host is not None and options.max_per_host < 1:
        raise SourceRefused("the cap per host must be at least 1")
    if options.min_delay < 0 or (options.recrawl_hours or 0) < 0:
        raise SourceRefused("delays and recrawl intervals cannot be negative")
    same_case = Source.case_id == case.id if case is not None else Source.case_id.is_(None)
    duplicate = session.scalar(
        select(Source.id).where(
            Source.org_id == org.id, Source.kind == chosen.name, Source.url == start, same_case
        )
    )
    if duplicate is not None:
        raise SourceRefused(f"source {duplicate} already watches {start}")
    source = Source(
        org_id=org.id,
        case_id=case.id if case is not None else None,
        kind=chosen.name,
        url=start,
        same_host=options.same_host,
        path_prefix=options.path_prefix,
        max_depth=depth,
        max_pages=pages,
        max_per_host=options.max_per_host,
        media=options.media,
        obey_robots=defaults.obey_robots,
        render=options.render,
        recrawl_hours=(
            defaults.recrawl_hours if options.recrawl_hours is None else options.recrawl_hours
        ),
        min_delay=options.min_delay,
        enabled=True,
        created_by=actor,
        round=0,
    )
    session.add(source)
    session.flush()
    return source


def list_sources(session: Session, *, org: Organisation) -> list[Source]:
    """The organisation's sources, oldest first."""
    return list(session.scalars(select(Source).where(Source.org_id == org.id).order_by(Source.id)))


def get_source(session: Session, *, org: Organisation, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None or source.org_id != org.id:
        raise LookupError(f"no source {source_id}")
    return source
