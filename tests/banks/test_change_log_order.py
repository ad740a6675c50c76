"""The change log commits in sequence order even with writers in parallel (two API or
portal processes adding to the banks at once): a reader following it by sequence number
-- platform sync, every matcher replica -- never moves past an entry still being written.
On PostgreSQL this needs the appenders' lock; SQLite holds one writer at a time anyway."""

from __future__ import annotations

import threading
import time

from reclaim.banks import service as banks
from reclaim.banks.models import Bank
from reclaim.cases import service as cases
from reclaim.signals import PdqSignal


def _item(n: int) -> banks.NewItem:
    return banks.NewItem([PdqSignal(f"{n:064x}", 100)], f"item-{n}", "test")


def test_a_later_writer_waits_for_the_earlier_to_commit(database) -> None:
    with database.session() as session:
        bank_id = banks.create_bank(session, org=cases.get_org(session), name="main").id
    first = database._sessions()
    second_done = threading.Event()
    try:
        bank = first.get(Bank, bank_id)
        banks.add_items(first, bank=bank, items=[_item(1)], actor="first")
        first.flush()  # its log entry has a number, not yet committed

        def second() -> None:
            with database.session() as session:
                other = session.get(Bank, bank_id)
                banks.add_items(session, bank=other, items=[_item(2)], actor="second")
            second_done.set()

        writer = threading.Thread(target=second)
        writer.start()
        time.sleep(1.0)  # time enough to commit, were it not held back
        with database.session() as reader:
            newest, changed = banks.changed_items(reader, after=0)
        assert changed == set(), "a later entry was visible before an earlier one committed"
        assert not second_done.is_set()
        first.commit()
        writer.join(30)
        assert second_done.is_set()
    finally:
        first.close()
    with database.session() as reader:
        newest, changed = banks.changed_items(reader, after=0)
    assert len(changed) == 2
    assert newest > 0


def test_parallel_writers_and_a_following_reader_lose_nothing(database) -> None:
    with database.session() as session:
        bank_id = banks.create_bank(session, org=cases.get_org(session), name="main").id
    seen: set[str] = set()
    stop = threading.Event()

    def follow() -> None:
        cursor = 0
        while True:
            finished = stop.is_set()
            with database.session() as session:
                cursor, changed = banks.changed_items(session, after=cursor)
            seen.update(changed)
            if finished:
                return

    def write(offset: int) -> None:
        for n in range(offset, offset + 40):
            with database.session() as session:
                bank = session.get(Bank, bank_id)
                banks.add_items(session, bank=bank, items=[_item(n)], actor="w")

    reader = threading.Thread(target=follow)
    writers = [threading.Thread(target=write, args=(k * 1000,)) for k in range(3)]
    reader.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    stop.set()
    reader.join(30)
    with database.session() as session:
        _, everything = banks.changed_items(session, after=0)
    assert len(everything) == 120
    assert seen == everything
