"""``reclaim takedown``: draft, review, send and follow removal requests; ``reclaim org
contact`` sets the address notices give for answers.

Approving, rejecting and resolving uncertain mail are a person's decisions: they are
recorded under ``--by`` (default: this machine's user) with ``--role`` (default admin --
whoever runs the command line already holds the database and the keys).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from reclaim.cases import service as cases
from reclaim.cases.models import Organisation
from reclaim.cases.roles import Actor, NotAllowed, Role
from reclaim.cli.app import JsonOption, app, fail, load_settings
from reclaim.cli.banks import OrgOption, actor, org_app, org_session
from reclaim.takedown import service
from reclaim.takedown.drafting import DraftOptions
from reclaim.takedown.models import Notice, NoticeState
from reclaim.takedown.workflow import TakedownError, check_address, reference

takedown_app = typer.Typer(
    help="Removal requests: draft, approve, send, re-check, escalate, statistics.",
    no_args_is_help=True,
)
app.add_typer(takedown_app, name="takedown")

ByOption = Annotated[str | None, typer.Option("--by", help="Who decides (default: your user).")]
RoleOption = Annotated[Role, typer.Option("--role", help="Their role.")]


def person(by: str | None, role: Role) -> Actor:
    return Actor(by or actor(), role)


@contextmanager
def work(org: str | None) -> Iterator[tuple[Session, Organisation]]:
    """A transaction; takedown refusals exit 1 with their reason."""
    with org_session(load_settings(), org) as (session, organisation):
        try:
            yield session, organisation
        except (TakedownError, NotAllowed) as error:
            raise fail(str(error), 1) from None


def find_notice(session: Session, org: Organisation, notice_id: int) -> Notice:
    try:
        return service.get_notice(session, org=org, notice_id=notice_id)
    except service.NoticeNotFound as error:
        raise fail(str(error), 2) from None


def _summary(notice: Notice) -> dict[str, object]:
    return {
        "id": notice.id,
        "reference": reference(notice),
        "state": notice.state.value,
        "channel": notice.channel,
        "site": notice.domain,
        "language": notice.language,
        "recipient": notice.recipient,
        "form_url": notice.form_url,
        "version": notice.version,
        "created": notice.created.isoformat(),
        "sent": notice.sent_at.isoformat() if notice.sent_at else None,
        "reopens": notice.reopens,
        "previous": notice.previous_id,
    }


def notice_line(notice: Notice) -> str:
    to = notice.recipient or (f"form {notice.form_url}" if notice.form_url else "(no recipient)")
    fields = (str(notice.id), reference(notice), notice.state.value, notice.channel, notice.domain)
    return "\t".join((*fields, to)) + "\n"


@takedown_app.command("draft")
def draft(
    target: Annotated[
        str | None, typer.Argument(help="A sighting ID or a case number (or use the options).")
    ] = None,
    sighting: Annotated[
        list[int] | None, typer.Option("--sighting", help="A confirmed sighting.")
    ] = None,
    case: Annotated[
        str | None, typer.Option("--case", help="Every confirmed sighting of a case.")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Channel (default: the ladder's first).")
    ] = None,
    language: Annotated[str | None, typer.Option(help="ko or en (default: the contact's).")] = None,
    copyright: Annotated[
        bool, typer.Option("--copyright", help="She made the image herself.")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Recipient address (channel email).")
    ] = None,
    org: OrgOption = None,
) -> None:
    """Draft notices for confirmed sightings (one per site and recipient)."""
    if target is not None:
        if target.isdigit():
            sighting = [*(sighting or []), int(target)]
        else:
            case = target
    if bool(sighting) == bool(case):
        raise fail("name either sightings (IDs) or one case (its number)", 2)
    options = DraftOptions(channel=channel, language=language, copyright=copyright, recipient=to)
    settings = load_settings()
    with work(org) as (session, organisation):
        if case is not None:
            found = cases.get_case(session, org=organisation, number=case)
            notices = service.draft_case(
                session,
                org=organisation,
                case=found,
                actor=actor(),
                settings=settings,
                options=options,
            )
        else:
            notices = service.draft_sightings(
                session, org=organisation, sighting_ids=sighting or [], actor=actor(),
                settings=settings, options=options,
            )  # fmt: skip
        for notice in notices:
            sys.stdout.write(notice_line(notice))
        if not notices:
            sys.stderr.write("reclaim: nothing new to draft (already in open notices)\n")


@takedown_app.command("list")
def list_(
    state: Annotated[
        list[NoticeState] | None, typer.Option("--state", help="Only these states.")
    ] = None,
    as_json: JsonOption = False,
    org: OrgOption = None,
) -> None:
    """The organisation's notices, newest first."""
    with work(org) as (session, organisation):
        for notice in service.list_notices(session, org=organisation, states=state or ()):
            sys.stdout.write(
                json.dumps(_summary(notice), ensure_ascii=False) + "\n"
                if as_json
                else notice_line(notice)
            )


@takedown_app.command("show")
def show(
    notice_id: int, html: Annotated[bool, typer.Option("--html")] = False, org: OrgOption = None
) -> None:
    """A notice as it reads, its URLs and its mail."""
    with work(org) as (session, organisation):
        notice = find_notice(session, organisation, notice_id)
        summary = _summary(notice)
        for key in ("reference", "state", "channel", "site", "recipient", "form_url", "version"):
            sys.stdout.write(f"{key}: {summary[key]}\n")
        mail = service.mail_of(session, notice=notice)
        if mail is not None:
            sys.stdout.write(
                f"mail: {mail.state.value} {mail.message_id} {mail.last_error or ''}\n"
            )
        for target in service.targets(session, notice=notice):
            sys.stdout.write(f"url: {target.page_url} {target.media_url} [{target.state.value}]\n")
        sys.stdout.write(f"\nSubject: {notice.subject}\n\n")
        sys.stdout.write(notice.body_html if html else notice.body_text)
        sys.stdout.write("\n")


@takedown_app.command("edit")
def edit(
    notice_id: int,
    subject: Annotated[str | None, typer.Option()] = None,
    text_file: Annotated[
        Path | None, typer.Option("--text-file", help="New body (UTF-8 text).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to")] = None,
    form_url: Annotated[str | None, typer.Option("--form-url")] = None,
    by: ByOption = None,
    role: RoleOption = Role.ADMIN,
    org: OrgOption = None,
) -> None:
    """Change a draft; its approvals start over."""
    text = None
    if text_file is not None:
        try:
            text = text_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise fail(f"cannot read {text_file}: {error}", 2) from None
    with work(org) as (session, organisation):
        notice = find_notice(session, organisation, notice_id)
        service.edit_notice(
            session, notice=notice, actor=person(by, role), subject=subject, text=text,
            recipient=to, form_url=form_url,
        )  # fmt: skip
        sys.stdout.write(notice_line(notice))


@takedown_app.command("approve")
def approve(
    notice_id: int, by: ByOption = None, role: RoleOption = Role.ADMIN, org: OrgOption = None
) -> None:
    """Approve a draft (its mail is queued once it has the approvals it needs)."""
    settings = load_settings()
    with work(org) as (session, organisation):
        notice = find_notice(session, organisation, notice_id)
        result = service.approve(session, notice=notice, actor=person(by, role), settings=settings)
        sys.stdout.write(
            f"{notice.id}\t{notice.state.value}\t{result.approvals}/{result.needed} approvals\n"
        )


@takedown_app.command("reject")
def reject(
    notice_id: int,
    reason: Annotated[str, typer.Option(help="Why (kept with the notice).")],
    by: ByOption = None,
    role: RoleOption = Role.ADMIN,
    org: OrgOption = None,
) -> None:
    """Turn a draft down."""
    with work(org) as (session, organisation):
        notice = find_notice(session, organisation, notice_id)
        service.reject(session, notice=notice, actor=person(by, role), reason=reason)
        sys.stdout.write(notice_line(notice))


@takedown_app.command("cancel")
def cancel(
    notice_id: int,
    reason: Annotated[str, typer.Option()],
    by: ByOption = None,
    role: RoleOption = Role.ADMIN,
    org: OrgOption = None,
) -> None:
    """Withdraw a notice that has not gone out."""
    with work(org) as (session, organisation):
        notice = find_notice(session, organisation, notice_id)
        service.cancel(session, notice=notice, actor=person(by, role), reason=reason)
        sys.stdout.write(notice_line(notice))


@takedown_app.command("mark")
def mark(
    notice_id: int,
    state: Annotated[
        NoticeState,
        typer.Argument(help="acknowledged, removed, partially_removed, refused or no_answer."),
    ],
    reason: Annotated[str | None, typer.Option()] = None,
    by: ByOption = None,
    role: RoleOption = Role.ADMIN,
    org: OrgOption = None,
) -> None:
    """Record what the recipient did."""
    with work(org) as (session, organisation):
        notice = find_notice(session, organisation, notice_id)
        service.mark(session, notice=notice, state=state, actor=person(by, role), reason=reason)
        sys.stdout.write(notice_line(notice))


@takedown_app.command("submitted")
def submitted(
    notice_id: int, by: ByOption = None, role: RoleOption = Role.ADMIN, org: OrgOption = None
) -> None:
    """Record that an approved web-form notice was submitted (KCSC, search engines)."""
    settings = load_settings()
    with work(org) as (session, organisation):
        notice = find_notice(session, organisation, notice_id)
        service.submitted(session, notice=notice, actor=person(by, role), settings=settings)
        sys.stdout.write(notice_line(notice))


@org_app.command("contact")
def org_contact(
    email: Annotated[str | None, typer.Option(help="Where answers to notices go.")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    org: OrgOption = None,
) -> None:
    """Set the organisation's contact, which notices give as the notifier's."""
    with work(org) as (_, organisation):
        if email is not None:
            organisation.contact_email = check_address(email)
        if phone is not None:
            organisation.contact_phone = phone.strip()[:64] or None
        sys.stdout.write(
            f"{organisation.slug}\t{organisation.contact_email or '-'}\t"
            f"{organisation.contact_phone or '-'}\n"
        )
