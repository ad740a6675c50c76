"""Signing in to a case: generated secrets stored as argon2id, one verification on every
attempt (a dummy hash for numbers that do not exist), locks per number as typed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from reclaim.cases import service as cases
from reclaim.cases.access import (
    Access,
    CaseCredential,
    Locked,
    SignInFailed,
    case_number,
    new_secret,
)
from reclaim.config import Settings
from reclaim.store.base import utcnow


@pytest.fixture
def access(tmp_path: Path) -> Access:
    return Access(
        Settings(
            data_dir=tmp_path / "data",
            portal_argon2_memory_kib=8192,
            portal_argon2_time_cost=1,
            portal_lockout_failures=5,
            portal_lockout_minutes=15,
        )
    )


class Spy:
    """Stands in for the password hasher and records which stored hash every
    verification ran against."""

    def __init__(self, access: Access) -> None:
        self.calls: list[str] = []
        self._real = access._hasher
        access._hasher = self  # type: ignore[assignment]

    def verify(self, stored: str, secret: str) -> bool:
        self.calls.append(stored)
        return self._real.verify(stored, secret)

    def hash(self, secret: str) -> str:
        return self._real.hash(secret)

    def check_needs_rehash(self, stored: str) -> bool:
        return self._real.check_needs_rehash(stored)


def test_secrets_are_issued_once_and_stored_only_as_argon2id(database, access: Access) -> None:
    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="portal")
        issued = access.issue(session, case=case)
        stored = session.get(CaseCredential, case.id)
        assert stored is not None
        assert stored.passphrase_hash.startswith("$argon2id$")
        assert issued.passphrase not in stored.passphrase_hash
        assert len(issued.passphrase) == 24  # 5 groups of 4, dashes between
        assert len(issued.recovery_code) == 29
        assert access.sign_in(session, number=case.number, passphrase=issued.passphrase) is case
        typed = issued.passphrase.lower().replace("-", " ")
        assert access.sign_in(session, number=case.number.lower(), passphrase=typed) is case
    assert len({new_secret(5) for _ in range(1000)}) == 1000


def test_an_unknown_number_runs_the_same_verification_as_a_wrong_passphrase(
    database, access: Access
) -> None:
    spy = Spy(access)
    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="portal")
        access.issue(session, case=case)
        real_hash = session.get(CaseCredential, case.id).passphrase_hash  # type: ignore[union-attr]
        with pytest.raises(SignInFailed) as wrong:
            access.sign_in(session, number=case.number, passphrase="WRONG-WRONG")
        with pytest.raises(SignInFailed) as unknown:
            access.sign_in(session, number="ZZZ-ZZZ-ZZZ", passphrase="WRONG-WRONG")
        bare = cases.open_case(session, org=cases.get_org(session), actor="staff")
        with pytest.raises(SignInFailed) as no_credentials:
            access.sign_in(session, number=bare.number, passphrase="WRONG-WRONG")
    assert spy.calls == [real_hash, access._dummy, access._dummy]  # one each, same cost
    assert access._dummy.startswith("$argon2id$")
    assert str(wrong.value) == str(unknown.value) == str(no_credentials.value)


def test_a_thousand_wrong_passphrases_lock_the_number_known_or_not(
    database, access: Access
) -> None:
    spy = Spy(access)
    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="portal")
        issued = access.issue(session, case=case)
        now = utcnow()
        outcomes = {"failed": 0, "locked": 0}
        for number in (case.number, "ZZZ-ZZZ-ZZZ"):
            spy.calls.clear()
            for attempt in range(1000):
                try:
                    access.sign_in(session, number=number, passphrase=f"guess-{attempt}", now=now)
                except Locked:
                    outcomes["locked"] += 1
                except SignInFailed:
                    outcomes["failed"] += 1
            assert len(spy.calls) == 5  # locked numbers are refused before any check
        assert outcomes == {"failed": 10, "locked": 1990}
        with pytest.raises(Locked) as locked:  # even the right passphrase, while locked
            access.sign_in(session, number=case.number, passphrase=issued.passphrase, now=now)
        assert locked.value.until == now + timedelta(minutes=15)
        later = now + timedelta(minutes=16)
        for _ in range(5):
            with pytest.raises(SignInFailed):
                access.sign_in(session, number=case.number, passphrase="no", now=later)
        with pytest.raises(Locked) as again:
            access.sign_in(session, number=case.number, passphrase=issued.passphrase, now=later)
        assert again.value.until == later + timedelta(minutes=30)  # the lock doubles
        much_later = later + timedelta(minutes=31)
        assert (
            access.sign_in(
                session, number=case.number, passphrase=issued.passphrase, now=much_later
            )
            is case
        )


def test_the_recovery_code_sets_new_secrets_once(database, access: Access) -> None:
    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="portal")
        first = access.issue(session, case=case)
        with pytest.raises(SignInFailed):
            access.recover(session, number=case.number, recovery_code=first.passphrase)
        second = access.recover(session, number=case.number, recovery_code=first.recovery_code)
        assert second.passphrase != first.passphrase
        with pytest.raises(SignInFailed):
            access.sign_in(session, number=case.number, passphrase=first.passphrase)
        with pytest.raises(SignInFailed):  # spent
            access.recover(session, number=case.number, recovery_code=first.recovery_code)
        assert access.sign_in(session, number=case.number, passphrase=second.passphrase) is case


@pytest.mark.parametrize(
    ("typed", "issued"),
    [
        ("k7q 4m2 xp9", "K7Q-4M2-XP9"),
        ("Ｋ７Ｑ－４Ｍ２－ＸＰ９", "K7Q-4M2-XP9"),
        ("K7Q4M2XP9", "K7Q-4M2-XP9"),
    ],
)
def test_case_numbers_are_read_as_typed(typed: str, issued: str) -> None:
    assert case_number(typed) == issued


def test_hostile_input_is_just_a_failure(database, access: Access) -> None:
    with database.session() as session:
        for number, secret in [
            ("", ""),
            ("x" * 10_000, "y" * 10_000),
            ("<script>", "\x00\r\n"),
            ("'; DROP TABLE cases;--", "a"),
        ]:
            with pytest.raises(SignInFailed):
                access.sign_in(session, number=number, passphrase=secret)


def test_locks_stop_doubling_at_sixteen_hours(database, access: Access) -> None:
    """Whoever knows her case number can lock it: never for longer than 16 hours."""
    with database.session() as session:
        case = cases.open_case(session, org=cases.get_org(session), actor="portal")
        issued = access.issue(session, case=case)
        moment = utcnow()
        lengths = []
        for _ in range(9):
            for _ in range(5):
                with pytest.raises(SignInFailed):
                    access.sign_in(session, number=case.number, passphrase="no", now=moment)
            with pytest.raises(Locked) as locked:
                access.sign_in(session, number=case.number, passphrase="no", now=moment)
            lengths.append(locked.value.until - moment)
            moment = locked.value.until + timedelta(seconds=1)
        assert [int(x.total_seconds() // 60) for x in lengths] == [
            15,
            30,
            60,
            120,
            240,
            480,
            960,
            960,
            960,
        ]
        assert (
            access.sign_in(session, number=case.number, passphrase=issued.passphrase, now=moment)
            is case
        )
