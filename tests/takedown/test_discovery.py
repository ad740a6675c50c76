"""Finding abuse contacts: security.txt parsed (signed, hostile, huge) and fetched from a
real site on loopback through the guarded fetcher; abuse@ by the public suffix list;
what is found remembered without overwriting what people entered."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reclaim.cases import service as cases
from reclaim.monitor.fetch import Fetcher, FetchLimits
from reclaim.monitor.guard import parse_networks
from reclaim.takedown import directory
from reclaim.takedown.discovery import (
    MAX_CONTACTS,
    MAX_SECURITY_TXT,
    PUBLIC_SUFFIX_LIST,
    Discovered,
    InvalidSecurityTxt,
    conventional_abuse,
    discover,
    find_security_txt,
    parse_security_txt,
    registrable_domain,
    remember,
)
from tests.monitor.conftest import SITE_ADDRESS, Site, _serve, send

GOOD = """# Our security contacts
Contact: mailto:abuse@site.example
Contact: https://site.example/report-abuse
Contact: tel:+82-2-000-0000
Contact: mailto:abuse@site.example
Expires: 2099-12-31T23:59:59.000Z
Preferred-Languages: ko, en-US
Policy: https://site.example/policy
"""

SIGNED = """-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Contact: mailto:signed@site.example
- -Dash-escaped: this line started with a dash
Expires: 2099-01-01T00:00:00Z
Preferred-Languages: en
-----BEGIN PGP SIGNATURE-----

iQIzBAEBCgAdFiEEexample
-----END PGP SIGNATURE-----
Contact: mailto:unsigned-addition@evil.example
"""

EXPIRED = "Contact: mailto:old@site.example\nExpires: 2020-01-01T00:00:00Z\n"


def _limits(**changes: object) -> FetchLimits:
    base = {"allow": parse_networks(f"{SITE_ADDRESS}/32"), "retries": 0, "total_timeout": 10.0}
    base.update(changes)
    return FetchLimits(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trap() -> Iterator[Site]:
    """127.0.0.1 is never allowed: it must never see a request."""
    site = _serve("127.0.0.1", {})
    yield site
    site.server.shutdown()


def _text(body: str | bytes, content_type: str = "text/plain; charset=utf-8", status: int = 200):
    data = body.encode() if isinstance(body, str) else body
    return lambda h: send(h, status, data, content_type)


@pytest.fixture(scope="module")
def site(trap: Site) -> Iterator[Site]:
    wk = "/.well-known/security.txt"
    canonical_ok = "Contact: mailto:c@site.example\nCanonical: {url}\n"
    routes = {
        f"/good{wk}": _text(GOOD),
        f"/signed{wk}": _text(SIGNED),
        f"/expired{wk}": _text(EXPIRED),
        f"/huge{wk}": _text("Contact: mailto:a@site.example\n" + "#" * (MAX_SECURITY_TXT + 10)),
        f"/html{wk}": _text("<html><body>Oops</body></html>", "text/html"),
        f"/soft404{wk}": _text("<!doctype html><title>Not found</title>"),
        f"/binary{wk}": _text(b"\0" * 64, "application/octet-stream"),
        f"/euc-kr{wk}": _text("Contact: mailto:a@site.example\n# 신고\n".encode("euc-kr")),
        f"/error{wk}": _text("broken", status=500),
        "/legacy/security.txt": _text("Contact: mailto:legacy@site.example\n"),
        f"/copied{wk}": _text(canonical_ok.format(url="https://elsewhere.example" + wk)),
        f"/telonly{wk}": _text("Contact: tel:+1-555-0100\n"),
        f"/to-trap{wk}": lambda h: send(
            h, 302, b"", "text/plain", {"Location": f"http://127.0.0.1:{trap.port}{wk}"}
        ),
        f"/to-metadata{wk}": lambda h: send(
            h, 302, b"", "text/plain", {"Location": "http://169.254.169.254/latest/meta-data/"}
        ),
        f"/moved{wk}": lambda h: send(h, 301, b"", "text/plain", {"Location": f"/good{wk}"}),
    }
    served = _serve(SITE_ADDRESS, routes)
    own = served.url(f"/canonical{wk}")
    served.routes[f"/canonical{wk}"] = _text(canonical_ok.format(url=own))
    yield served
    served.server.shutdown()


@pytest.fixture(scope="module")
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(_limits()) as made:
        yield made


def _look(fetcher: Fetcher, site: Site, prefix: str):
    return find_security_txt(fetcher, "site.example", base_url=site.url(prefix))


# -- parsing ---------------------------------------------------------------------------


def test_a_security_txt_is_parsed_per_rfc_9116() -> None:
    parsed = parse_security_txt(GOOD)
    assert parsed.contacts == (
        "mailto:abuse@site.example",
        "https://site.example/report-abuse",
        "tel:+82-2-000-0000",
        "mailto:abuse@site.example",
    )
    assert parsed.languages == ("ko", "en")
    assert parsed.expires == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert not parsed.signed
    assert not parsed.expired()


def test_a_signed_file_is_read_from_its_cleartext_only() -> None:
    parsed = parse_security_txt(SIGNED)
    assert parsed.signed
    assert parsed.contacts == ("mailto:signed@site.example",)
    assert parsed.languages == ("en",)


def test_line_breaks_and_controls_cannot_leak_into_values() -> None:
    text = (
        "Contact: mailto:a@site.example\rBcc: everyone@example.net\n"
        "Contact: mailto:b@site.example\x00\n"
        "Contact: mailto:c@site.example\u2028Subject: x\n"
        "Contact: http://plain-http.example/\n"
        "Contact: javascript:alert(1)\n"
        "contact:   https://site.example/form   \n"
        "Expires: not a date\n"
    )
    parsed = parse_security_txt(text)
    assert parsed.contacts == (
        "mailto:a@site.example",
        "mailto:c@site.example",
        "https://site.example/form",
    )
    assert parsed.expires is None
    assert all("\r" not in c and "\n" not in c for c in parsed.contacts)


def test_security_txt_is_bounded() -> None:
    with pytest.raises(InvalidSecurityTxt, match="larger than"):
        parse_security_txt("#" * (MAX_SECURITY_TXT + 1))
    many = "".join(f"Contact: mailto:a{n}@site.example\n" for n in range(MAX_CONTACTS + 20))
    assert len(parse_security_txt(many).contacts) == MAX_CONTACTS


def test_naive_and_repeated_expiry_dates() -> None:
    text = "Expires: 2031-01-01T00:00:00\nExpires: 2030-06-01T00:00:00+09:00\n"
    parsed = parse_security_txt(text)
    assert parsed.expires == datetime(2030, 5, 31, 15, 0, tzinfo=UTC)  # the earlier one
    assert parsed.expired(datetime(2030, 6, 1, tzinfo=UTC))


# -- fetching --------------------------------------------------------------------------


def test_a_good_file_gives_its_mail_and_form_contacts(fetcher: Fetcher, site: Site) -> None:
    found = discover(fetcher, "site.example", base_url=site.url("/good"))
    source = site.url("/good/.well-known/security.txt")
    assert found == [
        Discovered("abuse@site.example", None, "ko,en", "security.txt", source),
        Discovered(None, "https://site.example/report-abuse", "ko,en", "security.txt", source),
    ]


def test_a_signed_file_and_a_redirect_within_the_site(fetcher: Fetcher, site: Site) -> None:
    assert [d.email for d in discover(fetcher, "site.example", base_url=site.url("/signed"))] == [
        "signed@site.example"
    ]
    moved = discover(fetcher, "site.example", base_url=site.url("/moved"))
    assert moved[0].source == site.url("/good/.well-known/security.txt")


def test_the_legacy_path_is_tried_after_a_404(fetcher: Fetcher, site: Site) -> None:
    result = _look(fetcher, site, "/legacy")
    assert [d.email for d in result.found] == ["legacy@site.example"]
    assert "HTTP 404" in result.problems[0]


@pytest.mark.parametrize(
    ("prefix", "why"),
    [
        ("/expired", "expired on 2020-01-01"),
        ("/huge", "larger than"),
        ("/html", "text/html, not text/plain"),
        ("/soft404", "HTML page"),
        ("/binary", "application/octet-stream"),
        ("/euc-kr", "not UTF-8"),
        ("/error", "HTTP 500"),
        ("/nothing-here", "HTTP 404"),
        ("/copied", "Canonical names other URLs"),
        ("/telonly", "no e-mail or https contact"),
        ("/to-trap", "forbidden address"),
        ("/to-metadata", "forbidden address"),
    ],
)
def test_unusable_files_give_nothing_and_say_why(
    fetcher: Fetcher, site: Site, trap: Site, prefix: str, why: str
) -> None:
    result = _look(fetcher, site, prefix)
    assert result.found == ()
    assert why in " | ".join(result.problems)
    assert trap.accepted == 0


def test_a_file_naming_its_own_url_as_canonical_is_used(fetcher: Fetcher, site: Site) -> None:
    assert [d.email for d in _look(fetcher, site, "/canonical").found] == ["c@site.example"]


def test_a_file_over_the_fetch_limit_is_not_even_read(site: Site) -> None:
    with Fetcher(_limits(page_bytes=MAX_SECURITY_TXT)) as small:
        result = _look(small, site, "/huge")
    assert result.found == ()
    assert "limit" in result.problems[0]


def test_unreachable_hosts_and_the_default_https_url(site: Site) -> None:
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        raise OSError("no such host")

    with Fetcher(_limits(), resolver=resolver) as fetcher:
        assert discover(fetcher, "Bücher.example") == []
    assert asked[0] == ("xn--bcher-kva.example", 443)


def test_a_bad_domain_raises(fetcher: Fetcher) -> None:
    with pytest.raises(directory.InvalidContact):
        discover(fetcher, "https://site.example/")


# -- abuse@ ----------------------------------------------------------------------------


def _require_suffix_list() -> None:
    if not PUBLIC_SUFFIX_LIST.exists():
        message = f"{PUBLIC_SUFFIX_LIST} is missing: scripts/setup installs Debian's publicsuffix"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("www.shop.co.kr", "abuse@shop.co.kr"),
        ("shop.co.kr", "abuse@shop.co.kr"),
        ("a.b.example.com", "abuse@example.com"),
        ("www.example.com", "abuse@example.com"),
        ("example.com", "abuse@example.com"),
        ("news.bbc.co.uk", "abuse@bbc.co.uk"),
        ("img.site.seoul.kr", "abuse@site.seoul.kr"),
        ("www.성인.한국", "abuse@xn--oj4bw8i.xn--3e0b707e"),
        ("user.blogspot.com", "abuse@blogspot.com"),  # private suffixes are not used
        ("x.unlisted-tld", "abuse@x.unlisted-tld"),
    ],
)
def test_conventional_abuse_uses_the_public_suffix_list(domain: str, expected: str) -> None:
    _require_suffix_list()
    assert conventional_abuse(domain) == expected


def test_a_public_suffix_has_no_abuse_address() -> None:
    _require_suffix_list()
    for suffix in ("co.kr", "seoul.kr"):
        with pytest.raises(directory.InvalidContact, match="public suffix"):
            conventional_abuse(suffix)


def test_wildcard_and_exception_rules(tmp_path: Path) -> None:
    rules = tmp_path / "list.dat"
    rules.write_text(
        "// ===BEGIN ICANN DOMAINS===\n"
        "com\nck\n*.ck\n!www.ck\nkr\nco.kr\n한국\n"
        "// ===END ICANN DOMAINS===\n"
        "// ===BEGIN PRIVATE DOMAINS===\n"
        "hosted.com\n"
        "// ===END PRIVATE DOMAINS===\n",
        encoding="utf-8",
    )
    assert registrable_domain("a.b.c.ck", suffix_list=rules) == "b.c.ck"
    assert registrable_domain("a.www.ck", suffix_list=rules) == "www.ck"
    assert registrable_domain("x.y.hosted.com", suffix_list=rules) == "hosted.com"
    assert registrable_domain("a.b.xn--3e0b707e", suffix_list=rules) == "b.xn--3e0b707e"
    with pytest.raises(directory.InvalidContact):
        registrable_domain("c.ck", suffix_list=rules)


def test_without_the_list_only_www_is_dropped(tmp_path: Path) -> None:
    missing = tmp_path / "absent.dat"
    assert conventional_abuse("www.shop.co.kr", suffix_list=missing) == "abuse@shop.co.kr"
    assert conventional_abuse("a.b.example.com", suffix_list=missing) == "abuse@a.b.example.com"
    assert conventional_abuse("www.com", suffix_list=missing) == "abuse@www.com"


# -- remembering -----------------------------------------------------------------------


def test_remember_stores_and_refreshes_but_never_overwrites_people(database) -> None:
    found = [
        Discovered("abuse@site.example", None, "ko,en", source="https://site.example/x"),
        Discovered(None, "https://site.example/form", "ko,en", source="https://site.example/x"),
    ]
    with database.session() as session:
        org = cases.get_org(session)
        assert remember(session, org=org, domain="site.example", found=[]) == []
        [stored] = remember(session, org=org, domain="Site.example", found=found)
        assert (stored.email, stored.form_url, stored.origin, stored.channel) == (
            "abuse@site.example",
            "https://site.example/form",
            "security.txt",
            "host_abuse",
        )
        newer = [Discovered("new@site.example", None, "en", source="https://site.example/x")]
        [again] = remember(session, org=org, domain="site.example", found=newer)
        assert (again.id, again.email, again.form_url) == (stored.id, "new@site.example", None)
        directory.set_contact(
            session,
            org=org,
            domain="manual.example",
            channel="host_abuse",
            email="person@manual.example",
        )
        assert remember(session, org=org, domain="manual.example", found=found) == []
        kept = directory.get_contact(
            session, org=org, domain="manual.example", channel="host_abuse"
        )
        assert (kept.email, kept.origin) == ("person@manual.example", "manual")
