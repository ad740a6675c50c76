"""Takedown: notices drafted per second and reported URLs re-checked per second on a loopback
site -- each against a baseline measured in the same run.

- Drafting: confirmed sightings of C cases across M sites, in a temporary SQLite database,
  become notices through ``service.draft_confirmed`` (confirmation and consent checked,
  the addressee found, text and HTML rendered, targets stored, the case timeline and the
  custody log written; one notice per case and site). Baseline: rendering the same
  notices with ``notices.render_notice`` alone -- the ratio is what everything but the
  wording costs.
- Re-checks: K reported URLs on a site served on 127.0.0.2 (the only address the fetcher
  may reach; the test names resolve to it) -- a third taken down (404), a third unchanged,
  a third re-encoded (hashed again in the isolated decoder and matched against the bank)
  -- re-checked by ``recheck.Rechecker``. Baseline: plain GETs of the same URLs through
  the same guarded fetcher (the page, and the file where the page was still there) -- the
  ratio is what extraction, hashing, matching and recording cost per URL.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.banks.models import BankItem
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.cases.models import ConsentPurpose, Organisation
from reclaim.cases.roles import Actor, Role
from reclaim.config import Settings
from reclaim.demo.media import make_photo
from reclaim.monitor.fetch import Fetcher, FetchLimits, Kind
from reclaim.monitor.models import Sighting, SightingStatus
from reclaim.monitor.sightings import Seen, record_sighting, review_sighting
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.signals.hasher import FileHasher
from reclaim.store import open_database
from reclaim.store.base import utcnow
from reclaim.store.db import Database
from reclaim.takedown import outbox, service, workflow
from reclaim.takedown.channels import channel
from reclaim.takedown.models import Notice, NoticeTarget
from reclaim.takedown.notices import Listed, NoticeContext, render_notice
from reclaim.takedown.recheck import Rechecker

HOST = "127.0.0.2"
REVIEWER = Actor("bench.reviewer", Role.REVIEWER)


def resolve(host: str, port: int) -> Sequence[str]:
    """Every test site lives on the loopback address the fetcher is allowed."""
    if host.endswith(".example"):
        return [HOST]
    raise OSError(f"no such host {host}")


class Site:
    """A loopback web site whose pages and files can be changed while it runs."""

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[bytes, str]] = {}
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once, no 40 ms stall

            def do_GET(self) -> None:
                body, kind = bodies.get(self.path, (b"gone", "text/plain"))
                self.send_response(200 if self.path in bodies else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def settings_for(folder: Path) -> Settings:
    return Settings(
        data_dir=folder,
        fetch_allow_networks=f"{HOST}/32",
        fetch_retries=0,
        log_level="WARNING",
    )


def _open(folder: Path, photo: Path, cases_n: int) -> tuple[Database, Settings, list[int]]:
    """A database with ``cases_n`` consenting cases, each with the photo banked."""
    settings = settings_for(folder)
    database = open_database(settings)
    signals = hash_file(HashRequest(str(photo))).signals
    with database.session() as session:
        org = cases.get_org(session)
        org.contact_email = "desk@support.example"
        bank = banks.create_bank(session, org=org, name="survivors")
        items = []
        for _ in range(cases_n):
            case = cases.open_case(session, org=org, actor="bench")
            cases.record_consent(
                session, case=case, purpose=ConsentPurpose.TAKEDOWN, granted=True, actor="bench"
            )
            new = banks.NewItem(signals, photo.name, "bench")
            (item,) = banks.add_items(session, bank=bank, items=[new], actor="bench", case=case)
            items.append(item.id)
    return database, settings, items


def _sight(
    database: Database, item_ids: Sequence[int], urls: Sequence[tuple[str, str, str]]
) -> None:
    """Record and confirm one sighting per (page, file, file SHA-256), item by item in turn."""
    with database.session() as session:
        org = cases.get_org(session)
        for number, (page, media, sha256) in enumerate(urls):
            item = session.get(BankItem, item_ids[number % len(item_ids)])
            assert item is not None
            seen = Seen(item, page, media, sha256, {"signal": "pdq", "distance": 0}, utcnow())
            sighting, _ = record_sighting(session, org=org, seen=seen)
            review_sighting(
                session,
                org=org,
                sighting_id=sighting.id,
                status=SightingStatus.CONFIRMED,
                actor="bench",
            )


def _draft_all(database: Database, settings: Settings) -> list[int]:
    drafted: list[int] = []
    while True:
        with database.session() as session:
            new = service.draft_confirmed(session, settings=settings, resolver=resolve)
            drafted += [n.id for n in new]
        if not new:
            return drafted


def _contexts(database: Database, notice_ids: Sequence[int]) -> list[NoticeContext]:
    """The contexts the drafted notices were rendered from, rebuilt from the database."""
    contexts = []
    with database.session() as session:
        org = cases.get_org(session)
        for notice_id in notice_ids:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            sightings = session.scalars(
                select(Sighting)
                .join(NoticeTarget, NoticeTarget.sighting_id == Sighting.id)
                .where(NoticeTarget.notice_id == notice_id)
            ).all()
            items = [
                Listed(s.page_url, s.media_url, s.first_seen, s.last_seen, s.media_sha256)
                for s in sightings
            ]
            contexts.append(
                NoticeContext(
                    reference=workflow.reference(notice),
                    channel=channel(notice.channel),
                    language=notice.language,
                    site=notice.domain,
                    organisation=org.name,
                    notifier_email=org.contact_email,
                    notifier_phone=org.contact_phone,
                    items=items,
                    recipient=notice.recipient,
                    drafted=notice.created,
                )
            )
    return contexts


def drafting(photo: Path, cases_n: int, sites: int, per_pair: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database, settings, items = _open(Path(folder), photo, cases_n)
        urls = []
        for case in range(cases_n):
            for site in range(sites):
                for k in range(per_pair):
                    base = f"http://site{site}.example/{case}-{k}"
                    sha256 = hashlib.sha256(base.encode()).hexdigest()
                    urls.append((f"{base}.html", f"{base}.jpg", sha256))
        # One case after another: sighting i belongs to case i // (sites * per_pair).
        _sight(database, [items[i // (sites * per_pair)] for i in range(len(urls))], urls)
        started = time.perf_counter()
        drafted = _draft_all(database, settings)
        seconds = time.perf_counter() - started
        contexts = _contexts(database, drafted)
        render_notice(contexts[0])  # templates and catalogs compiled before either timing
        started = time.perf_counter()
        for context in contexts:
            render_notice(context)
        rendering = time.perf_counter() - started
        database.dispose()
    per_second, baseline = len(drafted) / seconds, len(contexts) / rendering
    print(
        f"drafting: {len(drafted)} notices from {len(urls)} confirmed sightings "
        f"({cases_n} cases x {sites} sites) in {seconds:.2f} s"
    )
    print(
        f"notices/s: drafted {per_second:.0f}, rendering alone {baseline:.0f}, "
        f"ratio {per_second / baseline:.3f}"
    )


def _reencoded(body: bytes) -> bytes:
    out = io.BytesIO()
    with Image.open(io.BytesIO(body)) as image:
        image.convert("RGB").save(out, "JPEG", quality=60)
    return out.getvalue()


def _sent_notices(database: Database, settings: Settings) -> None:
    for notice_id in _draft_all(database, settings):
        with database.session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            workflow.approve(session, notice=notice, actor=REVIEWER, settings=settings)
            outbox.record_sent(session, notice=notice, actor="bench", settings=settings)


def _publish(site: Site, count: int, sites: int, original: bytes) -> dict[str, str]:
    """Serve ``count`` reported posts as their sites left them after the notices: a third
    taken down, a third untouched, a third with the picture re-encoded. Page URL -> which."""
    copy = _reencoded(original)
    kind_of = {}
    for number in range(count):
        page, media = f"/post/{number}.html", f"/img/{number}.jpg"
        kind = ("removed", "unchanged", "re-encoded")[number % 3]
        kind_of[f"http://site{number % sites}.example:{site.port}{page}"] = kind
        if kind != "removed":
            html = f"<html><body><img src='{media}'></body></html>".encode()
            site.bodies[page] = (html, "text/html")
            site.bodies[media] = (copy if kind == "re-encoded" else original, "image/jpeg")
    return kind_of


def rechecking(photo: Path, count: int, sites: int) -> None:
    original = photo.read_bytes()
    sha256 = hashlib.sha256(original).hexdigest()  # what the monitor saw on every page
    site = Site()
    kind_of = _publish(site, count, sites, original)
    with tempfile.TemporaryDirectory() as folder:
        database, settings, items = _open(Path(folder), photo, 1)
        urls = [(page, page.replace("/post/", "/img/")[:-5] + ".jpg", sha256) for page in kind_of]
        _sight(database, items, urls)
        _sent_notices(database, settings)
        fetcher = Fetcher(FetchLimits.from_settings(settings), resolver=resolve)
        hasher = FileHasher(settings)
        matchers = MatcherCache()
        try:
            _warm(database, fetcher, hasher, matchers, Path(folder), urls[0][0], original)
            plain = _plain_gets(database, fetcher, Path(folder))
            rechecker = Rechecker(
                database, settings, fetcher=fetcher, hasher=hasher, matchers=matchers
            )
            started = time.perf_counter()
            tally = rechecker.run(now=utcnow() + timedelta(days=1), limit=count)
            seconds = time.perf_counter() - started
            by_kind = _by_kind(database, rechecker, kind_of)
        finally:
            fetcher.close()
            hasher.close()
            site.close()
            database.dispose()
    per_second, baseline = tally.checked / seconds, count / plain
    print(
        f"re-checks: {tally.checked} URLs on {sites} sites in {seconds:.2f} s -- removed "
        f"{tally.removed}, up {tally.up}, changed {tally.changed}, unreachable "
        f"{tally.unreachable}"
    )
    print(
        f"re-checks/s: Rechecker {per_second:.1f}, plain guarded GETs of the same URLs "
        f"{baseline:.1f}, ratio {per_second / baseline:.3f}"
    )
    print("re-checks/s by what the site did: " + ", ".join(f"{k} {v:.1f}" for k, v in by_kind))


def _warm(
    database: Database,
    fetcher: Fetcher,
    hasher: FileHasher,
    matchers: MatcherCache,
    folder: Path,
    page_url: str,
    picture: bytes,
) -> None:
    """Start the decoder process, the connection pool and the bank's index untimed."""
    scratch = folder / "warm.jpg"
    scratch.write_bytes(_reencoded(picture))
    hashed = hasher.hash(str(scratch))
    fetcher.get(page_url, accept={Kind.PAGE})
    with database.session() as session:
        org = session.scalar(select(Organisation))
        assert org is not None
        signals = list(getattr(hashed, "signals", ()))
        matchers.match(session, org=org, shared_only=False, signals=signals)


def _plain_gets(database: Database, fetcher: Fetcher, folder: Path) -> float:
    """Seconds to fetch what a re-check fetches, in the order it does: the page, then the
    file if the page is up."""
    with database.session() as session:
        urls = session.execute(
            select(NoticeTarget.page_url, NoticeTarget.media_url).order_by(
                NoticeTarget.next_check, NoticeTarget.id
            )
        ).all()
    started = time.perf_counter()
    for page, media in urls:
        if fetcher.get(page, accept={Kind.PAGE}).status < 400:
            fetcher.download(media, folder / "plain", accept={Kind.IMAGE, Kind.VIDEO})
    return time.perf_counter() - started


def _by_kind(
    database: Database, rechecker: Rechecker, kind_of: dict[str, str]
) -> list[tuple[str, float]]:
    """Each target checked once more, timed by what its site did."""
    with database.session() as session:
        targets = session.execute(select(NoticeTarget.id, NoticeTarget.page_url)).all()
    spent: dict[str, list[float]] = {}
    for target_id, page_url in targets:
        started = time.perf_counter()
        rechecker.check(target_id)
        spent.setdefault(kind_of[page_url], []).append(time.perf_counter() - started)
    return [(kind, len(times) / sum(times)) for kind, times in spent.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--per-site", type=int, default=2, help="sightings per case and site")
    parser.add_argument("--urls", type=int, default=300, help="reported URLs re-checked")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.sites, args.per_site, args.urls = 10, 5, 2, 30
    with tempfile.TemporaryDirectory() as folder:
        photo = make_photo(Path(folder) / "photo.jpg", 640, 480, seed=7)
        drafting(photo, args.cases, args.sites, args.per_site)
        rechecking(photo, args.urls, min(args.sites, args.urls))


if __name__ == "__main__":
    main()
