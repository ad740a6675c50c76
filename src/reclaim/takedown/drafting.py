"""Drafting notices from confirmed sightings: one notice per case, site and addressee.

A sighting is drafted for only when a person confirmed it (a false match must never reach
a platform), its case is not withdrawn and the survivor consented to takedown notices.
The channel is the first of the escalation ladder unless one is named (a minor's case
starts with the hotline). The addressee comes from the contact directory -- the site's
entry (or, failing that, the ``abuse@`` convention), the hosting provider whose network
holds the site's address, or every authority entry of the channel -- and the language from
what the contact reads. URLs already in an open notice on the same channel and to the same
addressee are not drafted again.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks.models import BankItem
from reclaim.cases.models import Case, ConsentPurpose, Organisation
from reclaim.cases.service import consent_given
from reclaim.config import Settings
from reclaim.evidence.models import Evidence
from reclaim.monitor.guard import Resolver, system_resolver
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.store.base import utcnow
from reclaim.takedown import directory
from reclaim.takedown.channels import Channel, Reach, channel, ladder
from reclaim.takedown.discovery import conventional_abuse
from reclaim.takedown.entries import InvalidContact
from reclaim.takedown.models import Contact, Notice, NoticeTarget
from reclaim.takedown.notices import (
    LANGUAGES,
    Listed,
    NoticeContext,
    NoticeIncomplete,
    render_notice,
)
from reclaim.takedown.workflow import OPEN, NotReady, check_address, check_case, drafted, reference


@dataclass(frozen=True, slots=True)
class DraftOptions:
    channel: str | None = None
    """A channel by name; default the first of the case's ladder."""
    language: str | None = None
    copyright: bool = False
    """The survivor made the image herself: cite copyright too."""
    recipient: str | None = None
    """An address for the ``email`` channel (or to override the directory)."""


DEFAULT_OPTIONS = DraftOptions()


@dataclass(frozen=True, slots=True)
class Addressee:
    email: str | None
    form_url: str | None
    origin: str | None
    languages: tuple[str, ...]


class NotDraftable(NotReady):
    """Nothing here may be drafted (unconfirmed, no consent, withdrawn...)."""


def draft(
    session: Session,
    *,
    org: Organisation,
    sightings: Sequence[Sighting],
    actor: str,
    settings: Settings,
    options: DraftOptions = DEFAULT_OPTIONS,
    resolver: Resolver = system_resolver,
    previous: Notice | None = None,
    reopens: bool = False,
) -> list[Notice]:
    """Draft the notices ``sightings`` call for (none for URLs already in an open notice)."""
    groups: dict[tuple[int | None, str], list[Sighting]] = defaultdict(list)
    for sighting in sightings:
        _check_draftable(session, sighting, org, reopens=reopens)
        groups[(sighting.case_id, _domain(sighting.page_url))].append(sighting)
    notices: list[Notice] = []
    for (case_id, domain), group in groups.items():
        case = session.get(Case, case_id) if case_id is not None else None
        minor = bool(case and case.minor)
        chosen = _channel(settings, options, minor=minor, previous=previous, reopens=reopens)
        if chosen is None:
            continue
        for addressee in _addressees(session, org, chosen, domain, options, resolver):
            fresh = _not_open(session, group, chosen.name, addressee)
            if fresh:
                notices.append(
                    _draft_one(
                        session,
                        org=org,
                        case=case,
                        channel_cls=chosen,
                        domain=domain,
                        sightings=fresh,
                        addressee=addressee,
                        actor=actor,
                        options=options,
                        previous=previous,
                        reopens=reopens,
                    )
                )
    return notices


def next_channel(settings: Settings, notice: Notice, *, minor: bool) -> type[Channel] | None:
    """The channel after ``notice``'s on the ladder, or None at its end."""
    rungs = ladder(settings.takedown_ladder, minor=minor)
    names = [c.name for c in rungs]
    if notice.channel not in names:
        return rungs[0] if rungs else None
    at = names.index(notice.channel)
    return rungs[at + 1] if at + 1 < len(rungs) else None


def _channel(
    settings: Settings,
    options: DraftOptions,
    *,
    minor: bool,
    previous: Notice | None,
    reopens: bool,
) -> type[Channel] | None:
    """The named channel; else the one after ``previous`` (an escalation); else the
    first of the ladder (a new takedown, or one reopened by a re-upload)."""
    if options.channel is not None:
        chosen = channel(options.channel)
        if not chosen.applies(minor=minor):
            raise NotDraftable(f"the {chosen.name} channel is not for this case")
        return chosen
    if previous is not None and not reopens:
        return next_channel(settings, previous, minor=minor)
    rungs = ladder(settings.takedown_ladder, minor=minor)
    return rungs[0] if rungs else None


def _check_draftable(
    session: Session, sighting: Sighting, org: Organisation, *, reopens: bool
) -> None:
    if sighting.org_id != org.id:
        raise NotDraftable(f"sighting {sighting.id} belongs to another organisation")
    if sighting.status is not SightingStatus.CONFIRMED and not reopens:
        raise NotDraftable(
            f"sighting {sighting.id} is {sighting.status.value}: only a sighting a person "
            "confirmed is reported"
        )
    case = check_case(session, sighting.case_id)
    if (
        case is not None
        and consent_given(session, case=case, purpose=ConsentPurpose.TAKEDOWN) is None
    ):
        raise NotDraftable(f"case {case.number} has no consent to takedown notices")
    item = session.get(BankItem, sighting.item_id)
    if item is None or item.withdrawn is not None:
        raise NotDraftable(f"the banked item of sighting {sighting.id} was withdrawn")


def _domain(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def _addressees(
    session: Session,
    org: Organisation,
    chosen: type[Channel],
    domain: str,
    options: DraftOptions,
    resolver: Resolver,
) -> list[Addressee]:
    if options.recipient is not None:
        return [Addressee(check_address(options.recipient), None, "manual", ())]
    if chosen.reach is Reach.GIVEN:
        raise NotReady(f"the {chosen.name} channel needs an address (--to)")
    if chosen.reach is Reach.AUTHORITY:
        found = directory.authority_contacts(session, org=org, channel=chosen.name)
        return [_of(c) for c in found] or [Addressee(None, None, None, ())]
    if chosen.reach is Reach.NETWORK:
        contact = None
        for address in _addresses(domain, resolver):
            contact = directory.find_network_contact(
                session, org=org, channel=chosen.name, address=address
            )
            if contact is not None:
                break
        return [_of(contact) if contact else Addressee(None, None, None, ())]
    contact = directory.find_site_contact(session, org=org, channel=chosen.name, domain=domain)
    if contact is not None:
        return [_of(contact)]
    try:
        return [Addressee(conventional_abuse(domain), None, "convention", ())]
    except InvalidContact:  # an address, a public suffix: a person names the recipient
        return [Addressee(None, None, None, ())]


def _addresses(domain: str, resolver: Resolver) -> list[str]:
    try:
        return [str(ipaddress.ip_address(domain.strip("[]")))]
    except ValueError:
        pass
    try:
        return list(resolver(domain, 443))
    except (OSError, UnicodeError):
        return []


def _of(contact: Contact) -> Addressee:
    languages = tuple(x.strip() for x in contact.languages.split(",") if x.strip())
    return Addressee(contact.email, contact.form_url, contact.origin, languages)


def _not_open(
    session: Session, group: list[Sighting], channel_name: str, addressee: Addressee
) -> list[Sighting]:
    taken = set(
        session.scalars(
            select(NoticeTarget.sighting_id)
            .join(Notice, Notice.id == NoticeTarget.notice_id)
            .where(
                NoticeTarget.sighting_id.in_([s.id for s in group]),
                Notice.channel == channel_name,
                Notice.state.in_(OPEN),
                Notice.recipient.is_(None)
                if addressee.email is None
                else Notice.recipient == addressee.email,
            )
        )
    )
    return [s for s in group if s.id not in taken]


def _language(options: DraftOptions, addressee: Addressee, domain: str) -> str:
    if options.language is not None:
        if options.language not in LANGUAGES:
            raise NotReady(
                f"no notices in {options.language!r} (languages: {', '.join(LANGUAGES)})"
            )
        return options.language
    for language in addressee.languages:
        if language in LANGUAGES:
            return language
    return "ko" if domain.endswith(".kr") else "en"


def _listed(session: Session, sighting: Sighting) -> Listed:
    evidence = session.scalar(
        select(Evidence)
        .where(Evidence.sighting_id == sighting.id, Evidence.status == "sealed")
        .order_by(Evidence.id.desc())
    )
    return Listed(
        page_url=sighting.page_url,
        media_url=sighting.media_url,
        first_seen=sighting.first_seen,
        last_seen=sighting.last_seen,
        media_sha256=sighting.media_sha256,
        page_title=evidence.title if evidence is not None else None,
        evidence_ref=f"E-{evidence.id}" if evidence is not None else None,
        evidence_sha256=evidence.package_sha256 if evidence is not None else None,
    )


def _draft_one(
    session: Session,
    *,
    org: Organisation,
    case: Case | None,
    channel_cls: type[Channel],
    domain: str,
    sightings: list[Sighting],
    addressee: Addressee,
    actor: str,
    options: DraftOptions,
    previous: Notice | None,
    reopens: bool,
) -> Notice:
    language = _language(options, addressee, domain)
    now = utcnow()
    notice = Notice(
        org_id=org.id,
        case_id=case.id if case is not None else None,
        channel=channel_cls.name,
        domain=domain,
        language=language,
        recipient=addressee.email,
        form_url=addressee.form_url if addressee.email is None else None,
        recipient_origin=addressee.origin,
        subject="",
        body_text="",
        body_html="",
        options={"copyright": options.copyright},
        drafted_by=actor,
        created=now,
        changed=now,
        previous_id=previous.id if previous is not None else None,
        reopens=reopens,
    )
    savepoint = session.begin_nested()  # a notice that cannot be rendered leaves nothing
    session.add(notice)
    session.flush()
    context = NoticeContext(
        reference=reference(notice),
        channel=channel_cls,
        language=language,
        site=domain,
        organisation=org.name,
        notifier_email=org.contact_email,
        notifier_phone=org.contact_phone,
        items=[_listed(session, s) for s in sightings],
        minor=bool(case and case.minor),
        copyright=options.copyright,
        reupload=reopens,
        previous_reference=reference(previous) if previous is not None else None,
        recipient=addressee.email,
        form_url=notice.form_url,
        drafted=now,
    )
    try:
        rendered = render_notice(context)
    except NoticeIncomplete as error:
        savepoint.rollback()
        raise NotReady(f"the notice cannot be completed: {error}") from None
    notice.subject, notice.body_text, notice.body_html = (
        rendered.subject,
        rendered.text,
        rendered.html,
    )
    for sighting in sightings:
        session.add(
            NoticeTarget(
                notice_id=notice.id,
                sighting_id=sighting.id,
                page_url=sighting.page_url,
                media_url=sighting.media_url,
            )
        )
    session.flush()
    savepoint.commit()
    drafted(session, notice, actor=actor)
    return notice
