"""A picture two pages name at the same moment is fetched once: the second thread waits
for the first and finds the file fresh (a race CI met under load)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.config import Settings
from reclaim.demo.media import make_photo
from reclaim.monitor.extract import MediaRef
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import parse_networks
from reclaim.monitor.media import InPlace, MediaStep
from reclaim.monitor.recognise import Recogniser, Where
from reclaim.signals.hasher import FileHasher
from reclaim.store.base import utcnow

from .conftest import SITE_ADDRESS, _serve, send


def test_one_file_named_twice_at_once_is_fetched_once(database, tmp_path: Path) -> None:
    body = make_photo(tmp_path / "p.jpg", 320, 240, seed=3).read_bytes()

    def slow(handler) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.5)  # long enough for both threads to ask at once
        send(handler, 200, body, "image/jpeg")

    site = _serve(SITE_ADDRESS, {"/m/p.jpg": slow})
    limits = FetchLimits(allow=parse_networks(f"{SITE_ADDRESS}/32"), retries=0)
    hasher = FileHasher(Settings(data_dir=tmp_path / "data"))
    try:
        with database.session() as session:
            org_id = cases.get_org(session).id
        with Fetcher(limits) as fetcher:
            handler = InPlace(database, Recogniser(database, MatcherCache(), hasher))
            step = MediaStep(database, fetcher, handler, tmp_path / "work")
            start = utcnow()
            outcomes: list[str] = []

            def visit(page: str) -> None:
                where = Where(org_id, None, site.url(page), fresh_after=start)
                ref = MediaRef(site.url("/m/p.jpg"), "image", "img")
                outcomes.append(step.handle(ref, where).outcome)

            threads = [threading.Thread(target=visit, args=(p,)) for p in ("/a", "/b")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert [path for path, _ in site.hits] == ["/m/p.jpg"]
        assert sorted(outcomes) == ["hashed", "known"]
    finally:
        hasher.close()
        site.server.shutdown()
