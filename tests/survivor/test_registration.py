"""Registering by hashes: what a browser sends becomes a case with secrets, consents and
banked items the monitor matches; forged submissions are refused whole."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from reclaim.banks.models import BankItem
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.cases.access import Access
from reclaim.cases.models import ConsentPurpose
from reclaim.config import Settings
from reclaim.demo.media import make_photo
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.survivor.registration import (
    InvalidSubmission,
    consents_from,
    parse_files,
    register,
)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_photo(tmp_path_factory.mktemp("p") / "mine.jpg", 800, 600, seed=11)


def _payload(path: Path) -> list[dict[str, Any]]:
    """What the browser sends for ``path``: its signals as JSON, never the file."""
    signals = [s.to_json() for s in hash_file(HashRequest(str(path))).signals]
    return [{"kind": "image", "signals": signals}]


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", portal_argon2_memory_kib=8192, **extra)


def test_a_registration_opens_a_case_that_matches_her_picture(
    database, photo: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    access = Access(settings)
    files = parse_files(_payload(photo), limit=settings.case_item_limit)
    consents = consents_from({"search": True, "takedown": True, "share_hashes": False})
    with database.session() as session:
        org = cases.get_org(session)
        issued = register(
            session, org=org, files=files, consents=consents, minor=True, access=access,
            settings=settings,
        )  # fmt: skip
        case = access.sign_in(session, number=issued.number, passphrase=issued.passphrase)
        assert case.minor
        assert cases.consent_given(session, case=case, purpose=ConsentPurpose.TAKEDOWN)
        assert cases.consent_given(session, case=case, purpose=ConsentPurpose.SHARE_HASHES) is None
        assert (
            cases.consent_given(session, case=case, purpose=ConsentPurpose.POLICE_EVIDENCE) is None
        )
        (item,) = session.scalars(select(BankItem).where(BankItem.case_id == case.id)).all()
        assert item.label == "image 1"  # never her file's name
        assert "mine" not in str(item.signals)
        signals = hash_file(HashRequest(str(photo))).signals
        found = MatcherCache().match(session, org=org, shared_only=False, signals=signals)
        assert {m.item_id for m in found} == {item.public_id}
        names = [e.name for e in cases.timeline(session, case=case)]
        assert names[:2] == ["case.opened", "hashes.registered"]


def _bad(payload: list[dict[str, Any]]) -> list[tuple[str, object]]:
    signals = payload[0]["signals"]
    pdq = next(s for s in signals if s["type"] == "pdq")
    out: list[tuple[str, object]] = []

    def variant(name: str, change: Any) -> None:
        forged = copy.deepcopy(payload)
        change(forged[0])
        out.append((name, forged))

    variant(
        "bad hex",
        lambda f: next(s for s in f["signals"] if s["type"] == "pdq").update(value="zz" * 32),
    )
    variant(
        "short hex",
        lambda f: next(s for s in f["signals"] if s["type"] == "pdq").update(value="ab"),
    )
    variant(
        "quality", lambda f: next(s for s in f["signals"] if s["type"] == "pdq").update(quality=200)
    )
    variant(
        "quality type",
        lambda f: next(s for s in f["signals"] if s["type"] == "pdq").update(quality="x"),
    )
    variant(
        "regions",
        lambda f: next(s for s in f["signals"] if s["type"] == "pdq").update(regions="!!!"),
    )
    variant(
        "grid", lambda f: next(s for s in f["signals"] if s["type"] == "pdq").update(grid=[1, 2])
    )
    variant("unknown type", lambda f: f["signals"].append({"type": "photodna", "value": "x"}))
    variant("twice", lambda f: f["signals"].append(dict(pdq)))
    variant("kind", lambda f: f.update(kind="<script>"))
    variant("no signals", lambda f: f.update(signals=[]))
    variant(
        "md5 only",
        lambda f: f.update(
            signals=[s for s in f["signals"] if s["type"] == "md5"]
            or [{"type": "md5", "value": "0" * 32}]
        ),
    )
    variant("not a signal", lambda f: f.update(signals=["pdq"]))
    out += [("not a list", {"kind": "image"}), ("empty", []), ("too many", payload * 3)]
    return out


def test_forged_submissions_are_refused_whole(database, photo: Path, tmp_path: Path) -> None:
    payload = _payload(photo)
    for name, forged in _bad(payload):
        try:
            parse_files(forged, limit=2)
        except InvalidSubmission:
            continue
        pytest.fail(f"a forged submission was accepted: {name}")
    with pytest.raises(InvalidSubmission):
        consents_from({"search": "yes"})
    settings = _settings(tmp_path, case_item_limit=1)
    access = Access(settings)
    files = parse_files(payload * 2, limit=5)
    with database.session() as session, pytest.raises(InvalidSubmission, match="at most 1"):
        register(
            session, org=cases.get_org(session), files=files, consents={}, minor=False,
            access=access, settings=settings,
        )  # fmt: skip
