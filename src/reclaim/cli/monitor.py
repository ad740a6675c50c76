"""``reclaim case``, ``reclaim source``, ``reclaim monitor`` and ``reclaim sightings``."""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TextColumn

from reclaim.cases import service as cases
from reclaim.cases.models import Case
from reclaim.cli.app import JsonOption, app, fail, load_settings
from reclaim.cli.banks import OrgOption, actor, org_session
from reclaim.monitor import frontier
from reclaim.monitor.crawl import Visit
from reclaim.monitor.engine import Monitor, Tally
from reclaim.monitor.media import MediaOutcome
from reclaim.monitor.models import SightingStatus
from reclaim.monitor.service import SourceOptions, SourceRefused, add_source, list_sources
from reclaim.monitor.sightings import list_sightings, review_sighting, sighting_json
from reclaim.monitor.sources import SOURCE_KINDS
from reclaim.store.db import open_database

case_app = typer.Typer(help="Cases: open one, show its timeline.", no_args_is_help=True)
source_app = typer.Typer(help="Where the monitor looks.", no_args_is_help=True)
monitor_app = typer.Typer(help="Crawl the sources and match what they show.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(source_app, name="source")
app.add_typer(monitor_app, name="monitor")

KINDS = ", ".join(f"{k.name} ({k.description})" for k in SOURCE_KINDS)


@case_app.command("open")
def case_open(org: OrgOption = None) -> None:
    """Open a case (for a survivor who phoned in, say) and print its number."""
    with org_session(load_settings(), org) as (session, organisation):
        case = cases.open_case(session, org=organisation, actor=actor())
        sys.stdout.write(f"{case.number}\n")


@case_app.command("show")
def case_show(number: str, org: OrgOption = None, as_json: JsonOption = False) -> None:
    """Print a case's timeline, oldest first."""
    with org_session(load_settings(), org) as (session, organisation):
        case = cases.get_case(session, org=organisation, number=number)
        for event in cases.timeline(session, case=case):
            row = {"event": event.name, "at": event.created.isoformat(), "actor": event.actor}
            row.update(event.data())
            if as_json:
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                details = " ".join(f"{k}={v}" for k, v in event.data().items())
                sys.stdout.write(f"{row['at']}\t{event.name}\t{details}\n")


@case_app.command("mark-minor")
def case_mark_minor(number: str, org: OrgOption = None) -> None:
    """Record that she was under 18 when filmed: from now on no picture or video of the
    case is kept (only hashes, URLs, headers and a blurred screenshot)."""
    with org_session(load_settings(), org) as (session, organisation):
        case = cases.get_case(session, org=organisation, number=number)
        case.minor = True
        sys.stdout.write(f"{case.number}\tminor\n")


@case_app.command("consent")
def case_consent(
    number: str,
    purpose: Annotated[
        str, typer.Argument(help="search, takedown, share_hashes or police_evidence.")
    ],
    decision: Annotated[str, typer.Argument(help="yes or no.")],
    note: Annotated[str, typer.Option(help="How she gave it (phone call, form).")] = "",
    org: OrgOption = None,
) -> None:
    """Record the survivor's decision about one purpose (every decision is kept)."""
    from reclaim.cases.models import ConsentPurpose

    try:
        chosen = ConsentPurpose(purpose)
    except ValueError:
        raise fail(
            f"purpose must be one of {', '.join(p.value for p in ConsentPurpose)}", 2
        ) from None
    if decision not in ("yes", "no"):
        raise fail("the decision is yes or no", 2)
    with org_session(load_settings(), org) as (session, organisation):
        case = cases.get_case(session, org=organisation, number=number)
        cases.record_consent(
            session, case=case, purpose=chosen, granted=decision == "yes", actor=actor(), note=note
        )
        sys.stdout.write(f"{case.number}\t{chosen.value}\t{decision}\n")


@source_app.command("add")
def source_add(
    url: str,
    kind: Annotated[str, typer.Option(help=f"What the URL is: {KINDS}.")] = "pages",
    case: Annotated[str | None, typer.Option(help="Case the URL was reported in.")] = None,
    depth: Annotated[int | None, typer.Option(help="Links followed from the start.")] = None,
    max_pages: Annotated[int | None, typer.Option(help="URLs crawled per round.")] = None,
    prefix: Annotated[str | None, typer.Option(help="Only paths starting with this.")] = None,
    any_host: Annotated[bool, typer.Option("--any-host", help="Follow links off-site.")] = False,
    render: Annotated[bool, typer.Option("--render", help="Pages need JavaScript.")] = False,
    recrawl_hours: Annotated[
        float | None, typer.Option(help="Crawl again after (0: once).")
    ] = None,
    delay: Annotated[float, typer.Option(help="Seconds between requests to a host.")] = 1.0,
    max_per_host: Annotated[
        int | None, typer.Option(help="URLs of one host per crawl (with --any-host).")
    ] = None,
    media: Annotated[str, typer.Option(help="Media to fetch: any, images or videos.")] = "any",
    org: OrgOption = None,
) -> None:
    """Watch a URL. A URL reported in a case (``--case``) is one page unless --kind says
    otherwise; it is fetched even where robots.txt says no."""
    chosen = "reported" if case is not None and kind == "pages" and depth is None else kind
    options = SourceOptions(
        max_depth=depth,
        max_pages=max_pages,
        path_prefix=prefix,
        same_host=not any_host,
        render=render,
        recrawl_hours=recrawl_hours,
        min_delay=delay,
        max_per_host=max_per_host,
        media=media,
    )
    with org_session(load_settings(), org) as (session, organisation):
        the_case = cases.get_case(session, org=organisation, number=case) if case else None
        try:
            source = add_source(
                session,
                org=organisation,
                kind=chosen,
                url=url,
                actor=actor(),
                case=the_case,
                options=options,
            )
        except SourceRefused as error:
            raise fail(str(error), 2) from None
        sys.stdout.write(f"{source.id}\t{source.kind}\t{source.url}\n")


@source_app.command("list")
def source_list(org: OrgOption = None, as_json: JsonOption = False) -> None:
    """List the sources with their crawl state."""
    with org_session(load_settings(), org) as (session, organisation):
        for source in list_sources(session, org=organisation):
            state = frontier.counts(session, source=source)
            case = session.get(Case, source.case_id) if source.case_id else None
            row = {
                "id": source.id,
                "kind": source.kind,
                "url": source.url,
                "case": case.number if case else None,
                "depth": source.max_depth,
                "max_pages": source.max_pages,
                "max_per_host": source.max_per_host,
                "media": source.media,
                "round": source.round,
                "last_finished": _iso(source.last_finished),
                "next_run": _iso(source.next_run),
                "urls": state,
            }
            if as_json:
                sys.stdout.write(json.dumps(row) + "\n")
            else:
                done = sum(state.values()) - state.get("queued", 0) - state.get("claimed", 0)
                when = row["next_run"] or ("never again" if source.round else "now")
                sys.stdout.write(
                    f"{source.id}\t{source.kind}\t{source.url}\tround {source.round}: "
                    f"{done}/{sum(state.values())} URLs\tnext {when}\n"
                )


@monitor_app.command("run")
def monitor_run(
    once: Annotated[bool, typer.Option("--once", help="Crawl what is due, then stop.")] = False,
    source: Annotated[list[int] | None, typer.Option(help="Only these source ids.")] = None,
) -> None:
    """Crawl due sources (a round left unfinished resumes), hash and match every picture
    and video, record sightings. Without --once, keeps looking for due sources; Ctrl-C
    stops after the pages in hand."""
    settings = load_settings()
    database = open_database(settings)
    progress = Progress()
    monitor = Monitor(database, settings, listener=progress)

    def stop(signum: int, frame: FrameType | None) -> None:
        sys.stderr.write("reclaim: stopping after the pages in hand\n")
        monitor.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if once:
            tally = monitor.run_once(source)
            progress.summary(tally)
        else:
            monitor.run_forever()
    finally:
        progress.close()
        monitor.close()
        database.dispose()


@app.command("sightings")
def sightings(
    case: Annotated[str | None, typer.Option(help="Only this case's sightings.")] = None,
    org: OrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Banked items the monitor found: where, when, and the match evidence."""
    with org_session(load_settings(), org) as (session, organisation):
        the_case = cases.get_case(session, org=organisation, number=case) if case else None
        numbers: dict[int, str] = {}
        for found in list_sightings(session, org=organisation, case=the_case):
            number = None
            if found.case_id is not None:
                if found.case_id not in numbers:
                    owner = session.get(Case, found.case_id)
                    numbers[found.case_id] = owner.number if owner else ""
                number = numbers[found.case_id]
            print_sighting(sighting_json(found, number), as_json=as_json)


def print_sighting(row: dict[str, Any], *, as_json: bool) -> None:
    """One sighting as a JSON line, or as a tab-separated line for people."""
    if as_json:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    match = row["match"]
    sys.stdout.write(
        f"{row['id']}\t{row['case'] or '-'}\t{row['status']}\t{row['media_url']}\t"
        f"on {row['page_url']}\t{match.get('signal')} distance {match.get('distance')}"
        f"\tlast seen {row['last_seen']}\n"
    )


sighting_app = typer.Typer(help="One sighting: review it.", no_args_is_help=True)
app.add_typer(sighting_app, name="sighting")


@sighting_app.command("review")
def sighting_review(
    sighting_id: int,
    status: Annotated[
        str,
        typer.Argument(help="under_review, confirmed (it is hers) or rejected (a false match)."),
    ],
    org: OrgOption = None,
) -> None:
    """Record a person's review of a sighting (the case timeline keeps each change)."""
    try:
        chosen = SightingStatus(status)
    except ValueError:
        raise fail(
            f"status must be under_review, confirmed or rejected, not {status!r}", 2
        ) from None
    with org_session(load_settings(), org) as (session, organisation):
        try:
            found = review_sighting(
                session, org=organisation, sighting_id=sighting_id, status=chosen, actor=actor()
            )
        except LookupError as error:
            raise fail(str(error), 2) from None
        sys.stdout.write(f"{found.id}\t{found.status.value}\n")


class Progress:
    """What the crawl is doing, on stderr. For a person at a terminal: a live line of
    counts (pages, media, matches, errors), and a line for each new sighting and each
    failure. Otherwise (a log file, a pipe): one line per page and medium."""

    def __init__(self, live: bool | None = None) -> None:
        self._live = sys.stderr.isatty() if live is None else live
        self._counts = {"pages": 0, "media": 0, "hashed": 0, "matches": 0, "errors": 0}
        self._lock = threading.Lock()
        self._display: RichProgress | None = None
        if self._live:
            self._display = RichProgress(
                SpinnerColumn(), TextColumn("{task.description}"), console=Console(stderr=True)
            )
            self._display.add_task(self._describe(), total=None)
            self._display.start()

    def __call__(self, what: str, event: object) -> None:
        with self._lock:
            line = self._count(event)
            if self._display is None:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
                return
            if "sighting" in line or "\tfailed\t" in line:
                self._display.console.print(line, markup=False, highlight=False)
            self._display.update(self._display.task_ids[0], description=self._describe())

    def _count(self, event: object) -> str:
        if isinstance(event, Visit):
            self._counts["pages"] += 1
            self._counts["errors"] += event.outcome == "failed"
            detail = f"\t{event.detail}" if event.detail else ""
            return f"page\t{event.outcome}\t{event.url}{detail}"
        if isinstance(event, MediaOutcome):
            self._counts["media"] += 1
            self._counts["hashed"] += event.outcome == "hashed"
            self._counts["matches"] += event.matches
            self._counts["errors"] += event.outcome == "failed"
            found = f"\t{event.new_sightings} new sighting(s)" if event.new_sightings else ""
            detail = f"\t{event.detail}" if event.detail else ""
            return f"media\t{event.outcome}\t{event.url}{found}{detail}"
        return str(event)

    def _describe(self) -> str:
        c = self._counts
        return (
            f"pages {c['pages']}  media {c['media']} (hashed {c['hashed']})  "
            f"matches {c['matches']}  errors {c['errors']}"
        )

    def summary(self, tally: Tally) -> None:
        self.close()
        sys.stdout.write(
            f"pages {tally.pages} (failed {tally.page_failures}, skipped {tally.skipped}), "
            f"media {tally.media} (hashed {tally.hashed}, failed {tally.media_failures}), "
            f"matches {tally.matches}, new sightings {tally.sightings}\n"
        )

    def close(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None


def _iso(value: object) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None


jobs_app = typer.Typer(help="The task queue: failed tasks.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@app.command("worker")
def worker(
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            help="Take tasks only from this queue (repeat for several): fetch, hash, "
            "match, capture, send, recheck. Default: all of them.",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's Prometheus metrics on this port.", min=1, max=65535),
    ] = None,
    metrics_address: Annotated[
        str, typer.Option(help="Address the metrics port listens on.")
    ] = "127.0.0.1",
) -> None:
    """Run background tasks (the monitor's crawls, hashing and matching of the media met,
    evidence captures, notices, re-checks, with retries) until Ctrl-C or SIGTERM; tasks
    still running are let finish. Start as many workers on as many machines as needed
    when RECLAIM_QUEUE_URL names a Redis."""
    from reclaim.jobs.queue import Jobs, Queue
    from reclaim.monitor.handoff import RESUME_TASK
    from reclaim.monitor.jobs import SCHEDULE

    if queue and "sweep" in queue:
        raise fail(
            "sweeps have no queue: a room's network is swept from a machine inside it, and "
            "a capture or a phone video is read where it is -- run `reclaim sweep lan|pcap|"
            "video` there",
            2,
        )
    try:
        queues = [Queue(name) for name in queue] if queue else None
    except ValueError:
        known = ", ".join(q.value for q in Queue)
        raise fail(f"unknown queue in {', '.join(queue or [])} (known: {known})", 2) from None
    settings = load_settings()
    jobs = Jobs(settings)
    try:
        if metrics_port is not None:
            from prometheus_client import start_http_server

            from reclaim.observe import REGISTRY, StateCollector

            REGISTRY.register(StateCollector(jobs.database(), jobs.depths))
            try:
                start_http_server(metrics_port, metrics_address, registry=REGISTRY)
            except OSError as error:
                where = f"{metrics_address}:{metrics_port}"
                raise fail(f"cannot serve metrics on {where}: {error.strerror}") from None
        if queues is None or Queue.FETCH in queues:
            jobs.enqueue(SCHEDULE)  # look for due sources now, not at the next full minute
        if queues is None or Queue.HASH in queues:
            jobs.enqueue(RESUME_TASK)  # put back media work a stopped worker left
        jobs.run(settings.jobs_workers, queues)
    finally:
        jobs.close()


@jobs_app.command("failed")
def jobs_failed(as_json: JsonOption = False) -> None:
    """Tasks that failed after their last retry (the dead-letter list)."""
    from reclaim.jobs.queue import Jobs

    jobs = Jobs(load_settings())
    try:
        for letter in jobs.dead_letters():
            last_line = letter.error.strip().splitlines()[-1] if letter.error.strip() else ""
            row = {
                "id": letter.id,
                "task": letter.task,
                "args": letter.args,
                "failed": letter.failed.isoformat(),
                "retried": _iso(letter.retried),
                "error": letter.error if as_json else last_line,
            }
            if as_json:
                sys.stdout.write(json.dumps(row) + "\n")
            else:
                retried = f"\tretried {row['retried']}" if row["retried"] else ""
                sys.stdout.write(
                    f"{letter.id}\t{letter.task}{tuple(letter.args)}\t{row['failed']}\t"
                    f"{last_line}{retried}\n"
                )
    finally:
        jobs.close()


@jobs_app.command("retry")
def jobs_retry(letter_id: int) -> None:
    """Send a failed task back to the queue (a worker runs it)."""
    from reclaim.jobs.queue import Jobs

    jobs = Jobs(load_settings())
    try:
        letter = jobs.retry(letter_id)
    except LookupError as error:
        raise fail(str(error), 2) from None
    finally:
        jobs.close()
    sys.stdout.write(f"{letter.id}\t{letter.task}\tqueued again\n")


__all__ = ["Progress", "case_app", "jobs_app", "monitor_app", "print_sighting", "source_app"]
