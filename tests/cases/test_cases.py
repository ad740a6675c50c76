"""Organisations, case numbers and the typed timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from reclaim.cases import service as cases
from reclaim.cases.events import CaseEvent, CaseOpened, HashesRegistered, UnregisteredEvent


def test_default_org_is_created_once(database) -> None:
    with database.session() as session:
        first = cases.get_org(session)
        assert cases.get_org(session).id == first.id
        with pytest.raises(cases.NotFound):
            cases.get_org(session, slug="elsewhere")


@pytest.mark.parametrize("slug", ["", "A", "a/b", "../x", "a b", "x;drop table", "-a", "a" * 65])
def test_bad_org_names_are_refused(database, slug: str) -> None:
    with database.session() as session, pytest.raises(cases.InvalidName):
        cases.create_org(session, slug=slug)


def test_case_numbers_are_short_unambiguous_and_unique(database) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        numbers = {cases.open_case(session, org=org, actor="t").number for _ in range(200)}
    assert len(numbers) == 200
    for number in numbers:
        assert re.fullmatch(
            r"[2-9A-HJKMNP-TW-Z]{3}-[2-9A-HJKMNP-TW-Z]{3}-[2-9A-HJKMNP-TW-Z]{3}", number
        )


def test_timeline_is_typed_and_ordered(database) -> None:
    with database.session() as session:
        org = cases.get_org(session)
        case = cases.open_case(session, org=org, actor="worker@centre", channel="phone")
        cases.record_event(session, case=case, event=HashesRegistered(actor="w", bank="b", items=3))
        events = cases.timeline(session, case=case)
    assert [type(e) for e in events] == [CaseOpened, HashesRegistered]
    assert events[0].channel == "phone"
    assert events[1].items == 3
    assert events[0].created.tzinfo is not None


def test_unregistered_events_are_refused(database) -> None:
    @dataclass(frozen=True, kw_only=True)
    class Sneaky(CaseEvent):
        name = "case.opened"  # even under a registered name

    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="t")
        with pytest.raises(UnregisteredEvent):
            cases.record_event(session, case=case, event=Sneaky(actor="t"))


def test_cases_are_isolated_between_organisations(database) -> None:
    with database.session() as session:
        mine = cases.create_org(session, slug="centre-a")
        theirs = cases.create_org(session, slug="centre-b")
        case = cases.open_case(session, org=theirs, actor="t")
        assert cases.get_case(session, org=theirs, number=case.number.lower()).id == case.id
        with pytest.raises(cases.NotFound):
            cases.get_case(session, org=mine, number=case.number)
