"""The frontier and sightings under concurrent workers: no URL queued or claimed twice,
no sighting made twice, no integrity error however the writes interleave."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from reclaim.banks import service as banks
from reclaim.cases import service as cases
from reclaim.monitor import frontier
from reclaim.monitor.models import FrontierUrl, Sighting, Source
from reclaim.monitor.service import SourceOptions, add_source
from reclaim.monitor.sightings import Seen, record_sighting
from reclaim.monitor.sources import Role
from reclaim.signals.exact import Sha256SignalType
from reclaim.store.base import utcnow

THREADS = 8


def _together(work: Callable[[int], None]) -> None:
    """Run ``work(n)`` on THREADS threads released at the same moment; re-raise failures."""
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(number: int) -> None:
        start.wait()
        try:
            work(number)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _source(database) -> int:
    with database.session() as session:
        source = add_source(
            session,
            org=cases.get_org(session),
            kind="pages",
            url="https://forum.example/",
            actor="test",
            options=SourceOptions(max_pages=10_000),
        )
        frontier.start_round(session, source=source, now=utcnow())
        return source.id


def test_the_same_links_queued_at_once_are_queued_once(database) -> None:
    source_id = _source(database)
    links = [(f"https://forum.example/t/{n}", Role.PAGE) for n in range(300)]
    added: list[int] = []

    def queue(number: int) -> None:
        with database.session() as session:
            source = session.get(Source, source_id)
            parent = session.scalars(select(FrontierUrl)).first()
            assert source is not None
            assert parent is not None
            done = frontier.queue_links(
                session, source=source, parent=parent, links=links, now=utcnow()
            )
            added.append(done.added)

    _together(queue)
    with database.session() as session:
        rows = session.scalar(select(func.count()).select_from(FrontierUrl))
    assert rows == 301
    assert sum(added) == 300  # what each worker says it added adds up to what is there


def test_workers_claiming_at_once_never_share_a_url(database) -> None:
    source_id = _source(database)
    with database.session() as session:
        source = session.get(Source, source_id)
        parent = session.scalars(select(FrontierUrl)).first()
        assert source is not None
        assert parent is not None
        links = [(f"https://forum.example/t/{n}", Role.PAGE) for n in range(199)]
        frontier.queue_links(session, source=source, parent=parent, links=links, now=utcnow())
    claimed: list[int] = []
    lock = threading.Lock()

    def work(number: int) -> None:
        while True:
            with database.session() as session:
                source = session.get(Source, source_id)
                assert source is not None
                got = frontier.claim(session, source=source, worker="w:1", now=utcnow(), limit=3)
            if not got:
                return
            with lock:
                claimed.extend(url.id for url in got)

    _together(work)
    assert len(claimed) == 200
    assert len(set(claimed)) == 200


def test_one_file_met_by_many_workers_at_once_is_one_sighting(database) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="test")
        bank = banks.create_bank(session, org=org, name="survivors")
        (item,) = banks.add_items(
            session,
            bank=bank,
            items=[banks.NewItem([Sha256SignalType.parse("ab" * 32)], "x", "test")],
            actor="test",
            case=case,
        )
        item_id, number = item.id, case.number
    new: list[bool] = []

    def see(number_: int) -> None:
        with database.session() as session:
            org = cases.get_org(session)
            banked = session.get(type(item), item_id)
            assert banked is not None
            seen = Seen(
                item=banked,
                page_url="https://forum.example/t/1",
                media_url="https://cdn.example/a.jpg",
                media_sha256="cd" * 32,
                match={"signal": "sha256", "distance": 0},
                when=utcnow(),
            )
            new.append(record_sighting(session, org=org, seen=seen)[1])

    _together(see)
    assert new.count(True) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Sighting)) == 1
        org = cases.get_org(session)
        case = cases.get_case(session, org=org, number=number)
        names = [event.name for event in cases.timeline(session, case=case)]
        assert names.count("sighting.found") == 1
