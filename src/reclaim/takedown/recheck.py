"""Re-checking reported URLs until the content is gone -- and for a while after.

Each URL of a notice that went out is fetched again through the guarded fetcher when due:

- the page answers 404 or 410, or the file does, or the file no longer matches the banked
  item (hashed again when its bytes changed): **removed**;
- the file is still served and still matches: **up** -- or **changed** when the page no
  longer shows it although the file is still there;
- anything else (a timeout, a 5xx, a refused address) decides nothing: **unreachable**.

A notice whose URLs are all removed becomes *removed*; some of them, *partially removed*.
Removed URLs keep being checked for ``takedown_watch_days``: one that comes back, or the
same banked item seen anywhere else afterwards (a **re-upload**), reopens the takedown with
a new draft on the first channel.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from reclaim.banks.models import BankItem
from reclaim.banks.replica import Matchers
from reclaim.cases.events import ContentReturned
from reclaim.cases.models import Case, Organisation
from reclaim.cases.service import record_event
from reclaim.config import Settings
from reclaim.media.errors import MediaError
from reclaim.monitor.errors import FetchFailed
from reclaim.monitor.extract import extract
from reclaim.monitor.fetch import Fetcher, Kind
from reclaim.monitor.media import validators as media_validators
from reclaim.monitor.models import MediaFile, MediaUrl, Sighting, SightingStatus
from reclaim.monitor.traps import normalise
from reclaim.signals.base import HashFormatError, Signal, UnknownSignalType
from reclaim.signals.hasher import FileHasher
from reclaim.signals.registry import signal_from_json
from reclaim.store.base import utcnow
from reclaim.store.db import Database
from reclaim.store.digest import file_sha256
from reclaim.takedown.drafting import DraftOptions, draft
from reclaim.takedown.models import Check, Notice, NoticeState, NoticeTarget, TargetState
from reclaim.takedown.workflow import OUT, TakedownError, move

log = logging.getLogger(__name__)
S = NoticeState
T = TargetState
GONE = frozenset({404, 410})


@dataclass(frozen=True, slots=True)
class Outcome:
    state: TargetState
    detail: str
    status: int | None = None


@dataclass
class RecheckTally:
    checked: int = 0
    removed: int = 0
    up: int = 0
    changed: int = 0
    unreachable: int = 0
    reopened: int = 0


class Rechecker:
    """Re-checks due URLs. ``hasher`` hashes files whose bytes changed (None: such files
    are taken as unreachable, to be hashed by a later run that has one)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        fetcher: Fetcher,
        hasher: FileHasher | None,
        matchers: Matchers,
    ) -> None:
        self._database = database
        self._settings = settings
        self._fetcher = fetcher
        self._hasher = hasher
        self._matchers = matchers

    def run(self, *, now: datetime | None = None, limit: int = 200) -> RecheckTally:
        """Check every due URL (at most ``limit``), then look for re-uploads."""
        tally = RecheckTally()
        moment = now or utcnow()
        with self._database.session() as session:
            due = session.scalars(
                select(NoticeTarget.id)
                .join(Notice, Notice.id == NoticeTarget.notice_id)
                .where(Notice.state.in_(OUT), NoticeTarget.next_check <= moment)
                .order_by(NoticeTarget.next_check)
                .limit(limit)
            ).all()
        for target_id in due:
            outcome = self.check(target_id, now=moment)
            tally.checked += 1
            setattr(tally, outcome.state.value, getattr(tally, outcome.state.value) + 1)
        with self._database.session() as session:
            tally.reopened += len(find_reuploads(session, settings=self._settings))
        return tally

    def check(self, target_id: int, *, now: datetime | None = None) -> Outcome:
        """Check one reported URL now and record what was found."""
        moment = now or utcnow()
        with self._database.session() as session:
            target = session.get(NoticeTarget, target_id)
            assert target is not None
            sighting = session.get(Sighting, target.sighting_id)
            assert sighting is not None
            page_url, media_url = target.page_url, target.media_url
            sha256, key, org_id, item_id = (
                sighting.media_sha256,
                sighting.media_url_key,
                sighting.org_id,
                sighting.item_id,
            )
            known = session.scalar(select(MediaUrl).where(MediaUrl.url_key == key))
            validators = media_validators(known) if known and known.sha256 == sha256 else {}
        outcome = self._look(page_url, media_url, sha256, validators, org_id, item_id)
        with self._database.session() as session:
            record(
                session, target_id=target_id, outcome=outcome, settings=self._settings, now=moment
            )
        return outcome

    def _look(
        self,
        page_url: str,
        media_url: str,
        sha256: str,
        validators: dict[str, str],
        org_id: int,
        item_id: int,
    ) -> Outcome:
        shown = True
        if page_url != media_url:
            try:
                page = self._fetcher.get(page_url, accept={Kind.PAGE})
            except FetchFailed as error:
                return Outcome(T.UNREACHABLE, f"the page: {error}")
            if page.status in GONE:
                return Outcome(T.REMOVED, f"the page is gone ({page.status})", page.status)
            if page.status >= 400:
                return Outcome(T.UNREACHABLE, f"the page answered {page.status}", page.status)
            found = extract(page.body or b"", page.final_url, page.content_type)
            wanted = normalise(media_url)
            shown = any(normalise(ref.url) == wanted for ref in found.media)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "medium"
            try:
                fetched = self._fetcher.download(
                    media_url, path, accept={Kind.IMAGE, Kind.VIDEO}, headers=validators
                )
            except FetchFailed as error:
                return Outcome(T.UNREACHABLE, f"the file: {error}")
            if fetched.status in GONE:
                return Outcome(T.REMOVED, f"the file is gone ({fetched.status})", fetched.status)
            if fetched.status == 304:
                return _still_there(shown, "the file is unchanged (304)", 304)
            if fetched.status >= 400:
                return Outcome(T.UNREACHABLE, f"the file answered {fetched.status}", fetched.status)
            if file_sha256(path) == sha256:
                return _still_there(shown, "the same file is still served", fetched.status)
            return self._compare(path, org_id, item_id, shown, fetched.status)

    def _compare(self, path: Path, org_id: int, item_id: int, shown: bool, status: int) -> Outcome:
        digest = file_sha256(path)
        with self._database.session() as session:
            stored = session.get(MediaFile, digest)
            signals: list[Signal] | None = None
            if stored is not None and stored.error is None:
                try:
                    signals = [signal_from_json(s) for s in stored.signals]
                except (HashFormatError, UnknownSignalType):
                    signals = None  # hashed again below
        if signals is None:
            if self._hasher is None:
                return Outcome(T.UNREACHABLE, "the file changed and there is no hasher", status)
            hashed = self._hasher.hash(str(path))
            if isinstance(hashed, MediaError):
                return Outcome(T.REMOVED, f"the URL no longer serves media: {hashed}", status)
            signals = list(hashed.signals)
        with self._database.session() as session:
            org = session.get(Organisation, org_id)
            item = session.get(BankItem, item_id)
            assert org is not None
            assert item is not None
            matches = self._matchers.match(session, org=org, shared_only=False, signals=signals)
            if any(m.item_id == item.public_id and not m.negative for m in matches):
                return _still_there(shown, "a re-encoded copy still matches", status)
        return Outcome(T.REMOVED, "the file no longer matches the banked item", status)


def _still_there(shown: bool, detail: str, status: int | None) -> Outcome:
    if shown:
        return Outcome(T.UP, detail, status)
    return Outcome(T.CHANGED, f"the page no longer shows it, but {detail}", status)


def record(
    session: Session, *, target_id: int, outcome: Outcome, settings: Settings, now: datetime
) -> None:
    """Keep a check's outcome, schedule the next one, and move the notice along."""
    target = session.get(NoticeTarget, target_id)
    assert target is not None
    notice = session.get(Notice, target.notice_id)
    assert notice is not None
    session.add(
        Check(
            target_id=target.id,
            checked=now,
            outcome=outcome.state,
            status=outcome.status,
            detail=outcome.detail[:2000],
        )
    )
    was_removed = target.state is T.REMOVED
    target.checks += 1
    target.last_checked = now
    target.detail = outcome.detail[:2000]
    every = timedelta(hours=settings.takedown_recheck_hours)
    if outcome.state is T.UNREACHABLE:
        target.next_check = now + every
        if not was_removed:
            target.state = T.UNREACHABLE
        return
    if outcome.state is T.REMOVED:
        target.state = T.REMOVED
        target.removed_at = target.removed_at or now
        watch_until = target.removed_at + timedelta(days=settings.takedown_watch_days)
        later = now + every * 4  # removed content is watched less often
        target.next_check = later if later <= watch_until else None
    else:
        target.state = outcome.state
        target.next_check = now + every
        if was_removed:
            target.came_back_at, target.removed_at = now, None
            _reopen(session, notice, target, settings)
    session.flush()
    _settle(session, notice, now)


def _settle(session: Session, notice: Notice, now: datetime) -> None:
    states = [
        t.state
        for t in session.scalars(select(NoticeTarget).where(NoticeTarget.notice_id == notice.id))
    ]
    removed = sum(1 for s in states if s is T.REMOVED)
    try:
        if removed == len(states) and notice.state is not S.REMOVED:
            move(session, notice, S.REMOVED, actor="recheck", when=now)
        elif 0 < removed < len(states) and notice.state in (
            S.SENT,
            S.ACKNOWLEDGED,
            S.NO_ANSWER,
            S.REFUSED,
        ):
            move(session, notice, S.PARTIALLY_REMOVED, actor="recheck", when=now)
    except TakedownError as error:
        log.info("notice %s not moved: %s", notice.id, error)


def _reopen(session: Session, notice: Notice, target: NoticeTarget, settings: Settings) -> None:
    sighting = session.get(Sighting, target.sighting_id)
    org = session.get(Organisation, notice.org_id)
    assert sighting is not None
    assert org is not None
    _draft_reupload(session, org, notice, [sighting], settings)


def find_reuploads(session: Session, *, settings: Settings) -> list[Notice]:
    """Sightings of items whose content was removed, seen after the removal and not yet
    reported: each reopens the takedown with a new draft."""
    removed = session.execute(
        select(Notice, Sighting.item_id)
        .join(NoticeTarget, NoticeTarget.notice_id == Notice.id)
        .join(Sighting, Sighting.id == NoticeTarget.sighting_id)
        .where(Notice.state == S.REMOVED)
        .order_by(Notice.resolved_at)
    ).all()
    latest: dict[int, Notice] = {}
    for notice, item_id in removed:
        latest[item_id] = notice
    drafted: list[Notice] = []
    reported = select(NoticeTarget.sighting_id)
    for item_id, notice in latest.items():
        fresh = session.scalars(
            select(Sighting).where(
                Sighting.item_id == item_id,
                Sighting.status != SightingStatus.REJECTED,
                Sighting.first_seen > notice.resolved_at,
                Sighting.id.not_in(reported),
            )
        ).all()
        if fresh:
            org = session.get(Organisation, notice.org_id)
            assert org is not None
            drafted += _draft_reupload(session, org, notice, list(fresh), settings)
    return drafted


def _draft_reupload(
    session: Session,
    org: Organisation,
    previous: Notice,
    sightings: list[Sighting],
    settings: Settings,
) -> list[Notice]:
    try:
        with session.begin_nested():
            new = draft(
                session,
                org=org,
                sightings=sightings,
                actor="recheck",
                settings=settings,
                options=DraftOptions(copyright=bool(previous.options.get("copyright"))),
                previous=previous,
                reopens=True,
            )
    except TakedownError as error:
        log.info("a re-upload of notice %s is not drafted: %s", previous.id, error)
        return []
    case = session.get(Case, previous.case_id) if previous.case_id is not None else None
    if case is not None and new:
        event = ContentReturned(actor="recheck", notice=new[0].id, site=new[0].domain)
        record_event(session, case=case, event=event)
    return new
