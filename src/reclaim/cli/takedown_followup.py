"""``reclaim takedown`` once notices are out: sending, uncertain mail, replies, re-checks,
escalation and the platform statistics (the worker runs the periodic ones by itself)."""

from __future__ import annotations

import json
import mailbox
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from reclaim.banks.replica import worker_matchers
from reclaim.cases.models import Organisation
from reclaim.cases.roles import Role
from reclaim.cli.app import JsonOption, fail, load_settings
from reclaim.cli.banks import OrgOption
from reclaim.cli.takedown import (
    ByOption,
    RoleOption,
    find_notice,
    notice_line,
    person,
    takedown_app,
    work,
)
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.signals.hasher import FileHasher
from reclaim.store import open_database
from reclaim.takedown import outbox, replies, service, stats
from reclaim.takedown.models import OutboxMessage
from reclaim.takedown.recheck import Rechecker
from reclaim.takedown.smtp import NotConfigured


@takedown_app.command("send")
def send() -> None:
    """Send what the outbox holds now (the worker does this every minute)."""
    settings = load_settings()
    database = open_database(settings)
    try:
        tally = outbox.send_due(database, settings)
    except NotConfigured as error:
        raise fail(str(error), 1) from None
    finally:
        database.dispose()
    sys.stdout.write(
        f"sent {tally.sent}, retrying {tally.retried}, failed {tally.failed}, "
        f"uncertain {tally.uncertain}\n"
    )
    for problem in tally.errors:
        sys.stderr.write(f"reclaim: {problem}\n")
    if tally.uncertain:
        sys.stderr.write(
            "reclaim: uncertain mail waits for you: `reclaim takedown confirm-sent ID` if it "
            "arrived, `reclaim takedown resend ID` if not\n"
        )


def _mail(session: Session, org: Organisation, notice_id: int) -> OutboxMessage:
    notice = find_notice(session, org, notice_id)
    row = service.mail_of(session, notice=notice)
    if row is None:
        raise fail(f"notice {notice_id} has no mail", 2)
    return row


@takedown_app.command("confirm-sent")
def confirm_sent(
    notice_id: int, by: ByOption = None, role: RoleOption = Role.ADMIN, org: OrgOption = None
) -> None:
    """An uncertain (or failed) notice did reach its recipient: record it as sent."""
    settings = load_settings()
    with work(org) as (session, organisation):
        row = _mail(session, organisation, notice_id)
        outbox.confirm_sent(session, row=row, actor=person(by, role), settings=settings)
        sys.stdout.write(f"{notice_id}\tsent\n")


@takedown_app.command("resend")
def resend(
    notice_id: int, by: ByOption = None, role: RoleOption = Role.ADMIN, org: OrgOption = None
) -> None:
    """Send an uncertain or failed notice again (same Message-ID)."""
    with work(org) as (session, organisation):
        row = _mail(session, organisation, notice_id)
        outbox.resend(session, row=row, actor=person(by, role))
        sys.stdout.write(f"{notice_id}\tqueued\n")


@takedown_app.command("recheck")
def recheck(limit: Annotated[int, typer.Option(min=1)] = 200) -> None:
    """Re-check the reported URLs that are due (the worker does this every 10 minutes)."""
    settings = load_settings()
    database = open_database(settings)
    with Fetcher(FetchLimits.from_settings(settings)) as fetcher:
        hasher = FileHasher(settings)
        try:
            checker = Rechecker(
                database,
                settings,
                fetcher=fetcher,
                hasher=hasher,
                matchers=worker_matchers(settings),
            )
            tally = checker.run(limit=limit)
        finally:
            hasher.close()
            database.dispose()
    sys.stdout.write(
        f"checked {tally.checked}: removed {tally.removed}, up {tally.up}, "
        f"changed {tally.changed}, unreachable {tally.unreachable}; reopened {tally.reopened}\n"
    )


@takedown_app.command("escalate")
def escalate(org: OrgOption = None) -> None:
    """Move notices whose time ran out on to the next channel (the worker does this too)."""
    settings = load_settings()
    with work(org) as (session, _):
        for notice in service.escalate_due(session, settings=settings):
            sys.stdout.write(notice_line(notice))


@takedown_app.command("import-reply")
def import_reply(files: list[Path], org: OrgOption = None) -> None:
    """Attach received mail to its notices: .eml files or mbox files (bounces included)."""
    bad = 0
    with work(org) as (session, organisation):
        for path in files:
            for raw in _messages(path):
                try:
                    imported = replies.import_message(session, org=organisation, raw=raw)
                except replies.BadMessage as error:
                    sys.stderr.write(f"reclaim: {path}: {error}\n")
                    bad += 1
                    continue
                reply = imported.reply
                where = f"notice {reply.notice_id}" if reply.notice_id else "no notice"
                seen = "" if imported.new else " (seen before)"
                sys.stdout.write(f"{path}\t{reply.kind}\t{where}{seen}\n")
    if bad:
        raise typer.Exit(1)


def _messages(path: Path) -> Iterator[bytes]:
    try:
        if path.suffix.lower() == ".mbox":
            for message in mailbox.mbox(str(path), create=False):
                yield message.as_bytes()
        else:
            with path.open("rb") as stream:
                yield stream.read(replies.MAX_MESSAGE + 1)
    except (OSError, mailbox.Error) as error:
        raise fail(f"cannot read {path}: {error}", 2) from None


@takedown_app.command("stats")
def stats_(
    as_json: JsonOption = False,
    csv: Annotated[bool, typer.Option("--csv", help="CSV for a spreadsheet.")] = False,
    since: Annotated[
        datetime | None, typer.Option(help="Only notices sent from this date.")
    ] = None,
    org: OrgOption = None,
) -> None:
    """How fast each site removes what it is sent: per site and channel."""
    with work(org) as (session, organisation):
        when = since.astimezone() if since is not None else None
        rows = stats.platform_stats(session, org=organisation, since=when)
        if csv:
            sys.stdout.write(stats.to_csv(rows))
            return
        for row in rows:
            if as_json:
                sys.stdout.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
            else:
                rate = "-" if row.removal_rate is None else f"{row.removal_rate:.0%}"
                median = "-" if row.median_hours is None else f"{row.median_hours:g} h"
                sys.stdout.write(
                    f"{row.domain}\t{row.channel}\tsent {row.sent}\tremoved {row.removed} ({rate})"
                    f"\tmedian {median}\trefused {row.refused}\tno answer {row.no_answer}\n"
                )
