"""Banks: validation, change log, withdrawal, limits, and matching rules."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from reclaim.banks import service as banks
from reclaim.banks.matcher import BankMatcher
from reclaim.banks.models import ChangeLogEntry, ChangeOp, ItemSignal
from reclaim.cases import service as cases
from reclaim.cases.events import HashesRegistered, HashesWithdrawn
from reclaim.demo.media import render_scene
from reclaim.signals import PdqSignal, pdq_from_rgb, signal_from_json

RNG = np.random.default_rng(7)


def pdq(value: int, quality: int = 100) -> PdqSignal:
    return PdqSignal(f"{value:064x}", quality)


def flip(value: int, bits: int) -> int:
    positions = RNG.choice(256, size=bits, replace=False)
    for p in positions:
        value ^= 1 << int(p)
    return value


def _matcher(session, chosen):
    matcher = BankMatcher(chosen)
    matcher.add(banks.signal_rows(session, banks=chosen, shared_only=False))
    return matcher


BASE = int.from_bytes(RNG.bytes(32), "big")
STRANGER = int.from_bytes(RNG.bytes(32), "big")


@pytest.mark.parametrize(
    "name", ["", "a/b", "..", "a\\b", "x'; DROP TABLE banks;--", " a", "a" * 65, "é"]
)
def test_bad_bank_names_are_refused(database, name: str) -> None:
    with database.session() as session, pytest.raises(cases.InvalidName):
        banks.create_bank(session, org=cases.get_org(session), name=name)


def test_duplicate_names_and_bad_thresholds(database) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        banks.create_bank(session, org=org, name="b")
        with pytest.raises(cases.InvalidName):
            banks.create_bank(session, org=org, name="b")
        with pytest.raises(ValueError, match="threshold"):
            banks.create_bank(session, org=org, name="c", threshold=-1)
        other = cases.create_org(session, slug="other")
        banks.create_bank(session, org=other, name="b")  # names are per organisation


def _bank_with(session, values, *, name="survivors", negative=False, threshold=None):
    org = cases.get_org(session)
    bank = banks.create_bank(session, org=org, name=name, negative=negative, threshold=threshold)
    items = banks.add_items(
        session,
        bank=bank,
        actor="t",
        verified=True,
        items=[banks.NewItem([pdq(v)], f"item-{i}", "test") for i, v in enumerate(values)],
    )
    return bank, items


def test_match_threshold_and_stranger(database) -> None:
    with database.session() as session:
        bank, (item,) = _bank_with(session, [BASE])
        matcher = _matcher(session, [bank])
        near = matcher.match([pdq(flip(BASE, 31))])
        assert [(m.item_id, m.distance) for m in near] == [(item.public_id, 31)]
        assert matcher.match([pdq(flip(BASE, 32))]) == []
        assert matcher.match([pdq(STRANGER)]) == []


def test_per_bank_threshold_and_quality_floor(database) -> None:
    with database.session() as session:
        bank, _ = _bank_with(session, [BASE], threshold=10)
        matcher = _matcher(session, [bank])
        assert matcher.match([pdq(flip(BASE, 10))])
        assert not matcher.match([pdq(flip(BASE, 11))])
        assert not matcher.match([pdq(BASE, quality=49)])  # featureless queries never match


def test_negative_bank_suppresses_matches_no_closer(database) -> None:
    meme = flip(BASE, 12)
    with database.session() as session:
        normal, _ = _bank_with(session, [BASE], name="survivors")
        negative, _ = _bank_with(session, [meme], name="memes", negative=True)
        matcher = _matcher(session, [normal, negative])
        # The query is 12 from the banked item and 0 from the known meme: suppressed.
        result = matcher.match([pdq(meme)])
        assert [(m.bank, m.negative) for m in result] == [("memes", True)]
        # A query closer to the banked item than to the meme still matches it.
        result = matcher.match([pdq(BASE)])
        assert [(m.bank, m.distance) for m in result] == [("survivors", 0), ("memes", 12)]


def test_withdrawal_purges_hashes_from_the_log(database) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="t")
        bank = banks.create_bank(session, org=org, name="b")
        (item,) = banks.add_items(
            session,
            bank=bank,
            actor="t",
            case=case,
            items=[banks.NewItem([pdq(BASE)], "x", "portal")],
        )
        banks.verify_item(session, bank=bank, public_id=item.public_id, actor="reviewer")
        banks.withdraw_item(
            session, bank=bank, public_id=item.public_id, actor="survivor", delete_hashes=True
        )
        log = session.scalars(select(ChangeLogEntry).order_by(ChangeLogEntry.seq)).all()
        assert [e.op for e in log] == [ChangeOp.ADD, ChangeOp.VERIFY, ChangeOp.WITHDRAW]
        assert all(e.signals is None for e in log)  # no hash value survives anywhere
        assert session.scalars(select(ItemSignal)).all() == []
        assert banks.active_items(session, banks=[bank]) == []
        events = cases.timeline(session, case=case)
        assert isinstance(events[1], HashesRegistered)
        assert isinstance(events[2], HashesWithdrawn)
        assert events[2].deleted


def test_case_limit_is_all_or_nothing(database) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="t")
        bank = banks.create_bank(session, org=org, name="b")
        new = [banks.NewItem([pdq(i + 1)], f"{i}", "portal") for i in range(3)]
        banks.add_items(session, bank=bank, actor="t", case=case, items=new[:2], case_limit=3)
        with pytest.raises(banks.LimitExceeded, match="at most 3"):
            banks.add_items(session, bank=bank, actor="t", case=case, items=new, case_limit=3)
    with database.session() as session:
        assert len(banks.active_items(session, banks=[bank])) == 2


def test_signals_round_trip_through_the_database(database) -> None:
    vpdq = signal_from_json(
        {
            "type": "vpdq",
            "frames": [
                {"ts": 0.0, "quality": 90, "value": "ab" * 32},
                {"ts": 1.0, "quality": 40, "value": "cd" * 32},
            ],
        }
    )
    gridded = pdq_from_rgb(render_scene(320, 240, seed=2), grid=True)
    signals = [
        pdq(BASE, 77),
        vpdq,
        signal_from_json({"type": "md5", "value": "0" * 32}),
        PdqSignal(gridded.value, gridded.quality, grid=gridded.grid),
    ]
    with database.session() as session:
        bank = banks.create_bank(session, org=cases.get_org(session), name="b")
        banks.add_items(session, bank=bank, actor="t", items=[banks.NewItem(signals, "x", "t")])
    with database.session() as session:
        (item,) = banks.active_items(session, banks=[bank])
        assert banks.item_signals(item) == signals
        (entry,) = session.scalars(select(ChangeLogEntry)).all()
        assert entry.signals is not None  # replicas and platforms get the grid too
        assert entry.signals[3]["grid"] == gridded.grid.to_json()
