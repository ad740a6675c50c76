"""The survivor portal over HTTP: register by hashes, sign in, read the case in Korean or
English, change consents, add URLs, withdraw -- with the headers, tokens, locks and
escaping that keep her safe."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from reclaim.banks.models import BankItem, ItemStatus
from reclaim.cases import service as cases
from reclaim.cases.access import Access
from reclaim.cases.models import Case, CaseStatus, ConsentPurpose
from reclaim.config import Settings
from reclaim.demo.media import make_photo
from reclaim.monitor.models import Source
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.store import open_database
from reclaim.survivor import ledger
from reclaim.web.app import create_app

KO = {"accept-language": "ko-KR,ko;q=0.9,en;q=0.5"}
EN = {"accept-language": "en-GB,en;q=0.9"}


@pytest.fixture(scope="module")
def hashes(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What her browser would send for one picture (hashes only)."""
    photo = make_photo(tmp_path_factory.mktemp("p") / "her.jpg", 640, 480, seed=5)
    result = hash_file(HashRequest(str(photo))).to_json()
    return json.dumps([{"kind": result["type"], "signals": result["signals"]}])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        portal_argon2_memory_kib=8192,
        portal_argon2_time_cost=1,
        portal_rate_per_minute=1000,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(page: str, name: str = "token") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} in the page"
    return found.group(1)


def _register(client: TestClient, hashes: str, **consents: str) -> dict[str, str]:
    token = _token(client.get("/register", headers=KO).text)
    form = {"token": token, "files": hashes, "minor": "no", **consents}
    page = client.post("/register", data=form, headers=KO)
    assert page.status_code == 200, page.text
    return {
        key: re.search(rf'id="{key}">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
        for key in ("case-number", "passphrase", "recovery-code")
    }


def _sign_in(client: TestClient, number: str, passphrase: str) -> Any:
    token = _token(client.get("/signin").text)
    return client.post(
        "/signin",
        data={"token": token, "number": number, "passphrase": passphrase},
        follow_redirects=False,
    )


def test_pages_are_korean_first_strict_and_never_cached(client: TestClient) -> None:
    korean = client.get("/", headers=KO)
    english = client.get("/", headers=EN)
    assert '<html lang="ko">' in korean.text
    assert "내 사건 보기" in korean.text
    assert '<html lang="en">' in english.text
    assert "See my case" in english.text
    staff = client.get("/staff/signin", headers=KO)
    assert "로그인" in staff.text
    for page in (korean, english, staff, client.get("/register"), client.get("/signin")):
        assert page.headers["cache-control"] == "no-store"
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-frame-options"] == "DENY"
        # No inline script anywhere: every script element names its file.
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []
    for sneaky in (
        "//evil.example/",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "https://evil.example",
    ):
        chosen = client.get("/lang/ko", params={"next": sneaky}, follow_redirects=False)
        assert chosen.headers["location"] == "/"  # no open redirect
    chosen = client.get("/lang/en", params={"next": "/case/withdraw"}, follow_redirects=False)
    assert chosen.headers["location"] == "/case/withdraw"
    assert "See my case" in client.get("/", headers=KO).text  # her choice beats the header


def test_register_sign_in_read_change_and_withdraw(
    client: TestClient, settings: Settings, hashes: str
) -> None:
    secrets = _register(client, hashes, consent_search="yes", consent_takedown="yes")
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z0-9]{3}", secrets["case-number"])
    assert _sign_in(client, secrets["case-number"], "WRONG-PASS").status_code == 400
    signed = _sign_in(client, secrets["case-number"].lower(), secrets["passphrase"])
    assert signed.status_code == 303
    assert signed.headers["location"] == "/case"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    page = client.get("/case", headers=KO)
    assert "파일 1개를 등록했습니다." in page.text
    assert page.headers["cache-control"] == "no-store"
    csrf = _token(page.text, "csrf")
    # Consents: a forged or replayed token changes nothing; hers does.
    forged = client.post(
        "/case/consent", data={"csrf": "x" * 43, "consent_share_hashes": "yes"}, headers=EN
    )
    assert "This form has expired" in forged.text
    database = open_database(settings)
    try:
        with database.session() as session:
            case = session.scalar(select(Case).where(Case.number == secrets["case-number"]))
            assert case is not None
            assert (
                cases.consent_given(session, case=case, purpose=ConsentPurpose.SHARE_HASHES) is None
            )
        client.post("/case/consent", data={"csrf": csrf, "consent_search": "yes"})
        with database.session() as session:
            case = session.scalar(select(Case).where(Case.number == secrets["case-number"]))
            assert case is not None
            assert cases.consent_given(session, case=case, purpose=ConsentPurpose.SEARCH)
            assert cases.consent_given(session, case=case, purpose=ConsentPurpose.TAKEDOWN) is None
        # URLs she found go to the monitor, tied to her case; script is never reflected raw.
        urls = "https://site.example/post/1\n<script>alert(1)</script>\njavascript:alert(1)"
        added = client.post("/case/urls", data={"csrf": csrf, "urls": urls}, headers=EN)
        assert "1 address will be checked." in added.text
        assert "<script>alert(1)</script>" not in added.text
        assert "&lt;script&gt;" in added.text
        with database.session() as session:
            (source,) = session.scalars(select(Source)).all()
            assert (source.kind, source.url) == ("reported", "https://site.example/post/1")
        # Withdrawal: a confirmation, then her hashes are gone and her session ends.
        assert client.post("/case/withdraw", data={"csrf": csrf}).status_code == 400
        done = client.post("/case/withdraw", data={"csrf": csrf, "confirm": "yes"}, headers=EN)
        assert "Your case is withdrawn" in done.text
        with database.session() as session:
            case = session.scalar(select(Case).where(Case.number == secrets["case-number"]))
            assert case is not None
            assert case.status is CaseStatus.WITHDRAWN
            items = session.scalars(select(BankItem).where(BankItem.case_id == case.id)).all()
            assert {i.status for i in items} == {ItemStatus.WITHDRAWN}
        # ...and the ledger a restored backup reads says so (the case number, nothing more).
        assert ledger.read([ledger.ledger_path(settings)]) == [secrets["case-number"]]
        after = client.get("/case", follow_redirects=False)
        assert after.headers["location"] == "/signin"
    finally:
        database.dispose()


def test_every_failure_to_sign_in_looks_the_same(
    client: TestClient, settings: Settings, hashes: str
) -> None:
    secrets = _register(client, hashes)
    wrong = _sign_in(client, secrets["case-number"], "AAAA-BBBB-CCCC-DDDD-EEEE")
    unknown = _sign_in(client, "ZZZ-ZZZ-ZZZ", "AAAA-BBBB-CCCC-DDDD-EEEE")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.text == unknown.text
    # Another organisation's case is as unknown as no case.
    database = open_database(settings)
    try:
        with database.session() as session:
            other = cases.create_org(session, slug="other-centre")
            theirs = cases.open_case(session, org=other, actor="staff")
            issued = Access(settings).issue(session, case=theirs)
    finally:
        database.dispose()
    foreign = _sign_in(client, issued.number, issued.passphrase)
    assert foreign.status_code == 400
    assert foreign.text == unknown.text
    for _ in range(5):
        _sign_in(client, secrets["case-number"], "AAAA-BBBB-CCCC-DDDD-EEEE")
    locked = _sign_in(client, secrets["case-number"], secrets["passphrase"])
    assert locked.status_code == 400
    assert "Too many attempts on this case number" in locked.text


def test_forms_need_their_token(client: TestClient, hashes: str) -> None:
    client.get("/signin")
    stolen = _token(client.get("/signin").text)
    no_token = client.post("/signin", data={"number": "A", "passphrase": "B"})
    assert no_token.status_code == 400
    assert "expired" in no_token.text
    other = TestClient(client.app, base_url="http://127.0.0.1")
    replayed = other.post("/signin", data={"token": stolen, "number": "A", "passphrase": "B"})
    assert "expired" in replayed.text  # a token without its cookie is refused
    forged = client.post(
        "/register", data={"token": _token(client.get("/register").text), "files": '[{"kind":1}]'}
    )
    assert forged.status_code == 400
    assert "could not be registered" in forged.text
    huge = client.post(
        "/signin",
        content=b"a=" + b"x" * 100_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 400
    assert client.post("/signin", json={"number": "x"}).status_code == 400


def test_every_message_has_its_korean() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    from reclaim.web.portal.i18n import LOCALES, TEMPLATES

    options = {"extensions": "jinja2.ext.i18n", "trimmed": "true", "newstyle_gettext": "true"}
    found = {
        message[2] if isinstance(message[2], str) else tuple(message[2])
        for message in extract_from_dir(
            str(TEMPLATES), method_map=[("**.html", "jinja2")], options_map={"**.html": options}
        )
    }
    with (LOCALES / "ko" / "LC_MESSAGES" / "portal.po").open("rb") as po:
        catalog = read_po(po, locale="ko")
    for msgid in found:
        key = msgid if isinstance(msgid, str) else msgid[0]
        message = catalog.get(key)
        assert message is not None, f"not in the Korean catalog: {msgid!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"no Korean for {msgid!r}"
        assert not message.fuzzy
        wanted = set(re.findall(r"%\((\w+)\)s", key))
        assert all(set(re.findall(r"%\((\w+)\)s", s)) == wanted for s in strings), msgid


def test_an_address_for_news_is_kept_only_when_it_can_be_sealed(
    settings: Settings, hashes: str
) -> None:
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        token = _token(client.get("/register").text)
        form = {"token": token, "files": hashes, "contact": "her@mail.example"}
        unsealed = client.post("/register", data=form, headers=EN)
        assert "could not keep your e-mail address" in unsealed.text  # no master key here
    from reclaim.store.envelope import MasterKey

    MasterKey.create(settings.resolved_master_key_file)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        token = _token(client.get("/register").text)
        bad = {"token": token, "files": hashes, "contact": "her@mail.example\r\nBcc: x@y.example"}
        refused = client.post("/register", data=bad, headers=EN)
        assert refused.status_code == 400
        assert "does not look right" in refused.text
        good = {"token": token, "files": hashes, "contact": "her@mail.example"}
        kept = client.post("/register", data=good, headers=EN)
        assert kept.status_code == 200
        assert "could not keep" not in kept.text
