"""The contact directory on a real (migrated) SQLite database: checking values, storing,
CSV imports with broken and hostile rows, the seeded authorities, and the lookups."""

from __future__ import annotations

import pytest

from reclaim.cases import service as cases
from reclaim.takedown import directory
from reclaim.takedown.directory import (
    ContactNotFound,
    ImportRefused,
    InvalidContact,
    decode_csv,
    find_network_contact,
    find_site_contact,
    import_csv,
    normalise_domain,
    normalise_email,
    normalise_form_url,
    normalise_networks,
    parse_languages,
    set_contact,
)
from reclaim.takedown.models import Contact

HEADER = "domain,channel,email,form_url,languages,networks,notes\n"


@pytest.fixture
def session(database):
    with database.session() as session:
        yield session


@pytest.fixture
def org(session):
    return cases.get_org(session)


# -- values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "example.com"),
        ("  Example.COM.  ", "example.com"),
        ("*.example.com", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("성인.한국", "xn--oj4bw8i.xn--3e0b707e"),
        ("shop.co.kr", "shop.co.kr"),
        ("a-b.example.org", "a-b.example.org"),
    ],
)
def test_domains_are_lower_case_punycode(text: str, expected: str) -> None:
    assert normalise_domain(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("https://example.com", "not a URL"),
        ("example.com/path", "not a URL"),
        ("example.com:8080", "port"),
        ("user@example.com", "user"),
        ("exa mple.com", "no spaces"),
        ("example.com\r\nBcc: x@y.z", "line break"),
        ("exam\x00ple.com", "control character"),
        ("example..com", "not a valid domain"),
        ("-example.com", "not a valid domain"),
        ("x" * 64 + ".com", "not a valid domain"),
        (".".join(["a" * 60] * 5), "not a valid domain"),
        ("xn--zz.com", "not a valid domain"),
        ("*.*.example.com", "not a valid domain"),
        ("192.0.2.1", "IP address"),
        ("localhost", "two labels"),
    ],
)
def test_bad_domains_are_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(InvalidContact, match=why):
        normalise_domain(text)


def test_email_addresses_are_checked_and_keep_their_local_part() -> None:
    assert normalise_email(" Abuse@Example.COM ") == "Abuse@example.com"
    assert normalise_email("report+nii@bücher.example") == "report+nii@xn--bcher-kva.example"


@pytest.mark.parametrize(
    "text",
    [
        "abuse@example.com\r\nBcc: everyone@example.net",
        "abuse@example.com\nSubject: hi",
        "abuse@example.com\u2028x",
        "abuse\x0b@example.com",
        "Abuse Desk <abuse@example.com>",
        "abuse@example.com, other@example.com",
        "abuse@example.com;other@example.com",
        "a b@example.com",
        '"quoted"@example.com',
        "@example.com",
        "abuse@",
        "abuse",
        "abuse@localhost",
        "x" * 65 + "@example.com",
    ],
)
def test_unsafe_or_odd_email_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidContact):
        normalise_email(text)


def test_form_urls_are_http_with_a_punycode_host() -> None:
    assert (
        normalise_form_url("HTTPS://Bücher.example/report?x=1#form")
        == "https://xn--bcher-kva.example/report?x=1#form"
    )
    assert normalise_form_url("http://example.com:8080/a") == "http://example.com:8080/a"
    for bad in (
        "javascript:alert(1)",
        "ftp://example.com/",
        "https://user:pw@example.com/",
        "https://example.com/a b",
        "https://example.com/\r\nX: y",
        "https:///nohost",
        "https://example.com:99999/",
        "mailto:abuse@example.com",
    ):
        with pytest.raises(InvalidContact):
            normalise_form_url(bad)


def test_languages_are_primary_tags_in_order() -> None:
    assert parse_languages("ko-KR, EN, ko") == "ko,en"
    assert parse_languages("zh_Hant") == "zh"
    assert parse_languages("fil") == "fil"
    for bad in ("", " , ", "english", "k", "ko;en", "ko\nen"):
        with pytest.raises(InvalidContact):
            parse_languages(bad)


def test_networks_are_normalised_cidrs() -> None:
    assert (
        normalise_networks("192.0.2.77/24, 2001:DB8::1/32,192.0.2.0/24")
        == "192.0.2.0/24,2001:db8::/32"
    )
    assert normalise_networks("198.51.100.7") == "198.51.100.7/32"
    assert normalise_networks("") == ""
    for bad in ("192.0.2.0/33", "not-a-network", "0.0.0.0/0", "::/0", "192.0.2.0/24\n10.0.0.0/8"):
        with pytest.raises(InvalidContact):
            normalise_networks(bad)


# -- storing ---------------------------------------------------------------------------


def test_set_contact_inserts_then_updates_the_same_row(session, org) -> None:
    made = set_contact(
        session,
        org=org,
        domain="Example.com",
        channel="host_abuse",
        email="abuse@example.com",
        languages="ko, en",
    )
    assert (made.domain, made.languages, made.origin) == ("example.com", "ko,en", "manual")
    again = set_contact(
        session,
        org=org,
        domain="example.com.",
        channel="host_abuse",
        form_url="https://example.com/report",
        notes=" new ",
    )
    assert again.id == made.id
    assert (again.email, again.form_url, again.notes) == (
        None,
        "https://example.com/report",
        "new",
    )
    assert session.query(Contact).count() == 1


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"channel": "carrier_pigeon"}, "no channel"),
        ({"channel": "email"}, "given for each notice"),
        ({"email": None}, "needs an e-mail address or a form URL"),
        ({"channel": "hosting_provider", "email": ""}, "needs an e-mail address or a form URL"),
        ({"email": "abuse@example.com\r\nBcc: x@example.net"}, "line break"),
        ({"notes": "fine\r\nX-Injected: yes"}, "line break"),
        ({"notes": "x" * 3000}, "notes longer"),
        ({"origin": "rumour"}, "unknown origin"),
        ({"languages": "klingon"}, "not a language tag"),
        ({"networks": "300.1.1.1/8"}, "not a network"),
    ],
)
def test_set_contact_refuses_bad_entries(session, org, changes, why) -> None:
    fields = {"domain": "example.com", "channel": "host_abuse", "email": "abuse@example.com"}
    fields.update(changes)
    with pytest.raises(InvalidContact, match=why):
        set_contact(session, org=org, **fields)
    assert session.query(Contact).count() == 0


def test_organisations_do_not_see_each_others_entries(session, org) -> None:
    other = cases.create_org(session, slug="other")
    set_contact(
        session, org=other, domain="example.com", channel="host_abuse", email="abuse@example.com"
    )
    assert find_site_contact(session, org=org, channel="host_abuse", domain="example.com") is None
    assert directory.list_contacts(session, org=org) == []
    assert len(directory.list_contacts(session, org=other)) == 1


def test_delete_contact(session, org) -> None:
    set_contact(
        session, org=org, domain="example.com", channel="host_abuse", email="abuse@example.com"
    )
    directory.delete_contact(session, org=org, domain="EXAMPLE.com", channel="host_abuse")
    assert directory.list_contacts(session, org=org) == []
    with pytest.raises(ContactNotFound):
        directory.delete_contact(session, org=org, domain="example.com", channel="host_abuse")


# -- lookups ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.com.", "example.com"),
        ("www.example.com", "example.com"),
        ("a.b.c.example.com", "example.com"),
        ("shop.example.com", "shop.example.com"),
        ("cdn.shop.example.com", "shop.example.com"),
        ("notexample.com", None),
        ("example.com.evil.net", None),
        ("example.co", None),
        ("xample.com", None),
        ("www.bücher.example", "xn--bcher-kva.example"),
        ("192.0.2.10", None),
        ("[2001:db8::1]", None),
    ],
)
def test_site_lookup_takes_the_longest_suffix_on_label_boundaries(
    session, org, asked, found
) -> None:
    for domain in ("example.com", "shop.example.com", "bücher.example"):
        set_contact(
            session,
            org=org,
            domain=domain,
            channel="host_abuse",
            email=f"abuse@{normalise_domain(domain)}",
        )
    set_contact(
        session,
        org=org,
        domain="www.example.com",
        channel="hosting_provider",
        email="noc@host.example",
    )  # another channel: never found here
    contact = find_site_contact(session, org=org, channel="host_abuse", domain=asked)
    assert (contact.domain if contact else None) == found


def test_site_lookup_refuses_garbage(session, org) -> None:
    with pytest.raises(InvalidContact):
        find_site_contact(session, org=org, channel="host_abuse", domain="http://x.com/")
    with pytest.raises(ValueError, match="no channel"):
        find_site_contact(session, org=org, channel="nope", domain="x.com")


def test_network_lookup_prefers_the_most_specific_prefix(session, org) -> None:
    set_contact(
        session,
        org=org,
        domain="bighost.example",
        channel="hosting_provider",
        email="abuse@bighost.example",
        networks="203.0.113.0/24, 2001:db8::/32",
    )
    set_contact(
        session,
        org=org,
        domain="reseller.example",
        channel="hosting_provider",
        email="abuse@reseller.example",
        networks="203.0.113.128/25",
    )
    set_contact(
        session,
        org=org,
        domain="elsewhere.example",
        channel="host_abuse",
        email="abuse@elsewhere.example",
        networks="198.51.100.0/24",
    )

    def owner(address: str) -> str | None:
        found = find_network_contact(session, org=org, channel="hosting_provider", address=address)
        return found.domain if found else None

    assert owner("203.0.113.5") == "bighost.example"
    assert owner("203.0.113.200") == "reseller.example"
    assert owner("::ffff:203.0.113.200") == "reseller.example"
    assert owner("2001:db8:1::7") == "bighost.example"
    assert owner("198.51.100.1") is None  # that entry is another channel's
    assert owner("192.0.2.1") is None
    with pytest.raises(InvalidContact):
        owner("203.0.113")


def test_authority_and_list_views(session, org) -> None:
    for domain in ("naver.example", "google.example"):
        set_contact(
            session,
            org=org,
            domain=domain,
            channel="search_engine",
            form_url=f"https://{domain}/report",
        )
    set_contact(
        session, org=org, domain="site.example", channel="host_abuse", email="abuse@site.example"
    )
    engines = directory.authority_contacts(session, org=org, channel="search_engine")
    assert [c.domain for c in engines] == ["google.example", "naver.example"]
    listed = directory.list_contacts(session, org=org)
    assert [(c.channel, c.domain) for c in listed] == [
        ("host_abuse", "site.example"),
        ("search_engine", "google.example"),
        ("search_engine", "naver.example"),
    ]
    assert len(directory.list_contacts(session, org=org, channel="host_abuse")) == 1


# -- CSV -------------------------------------------------------------------------------


def test_a_csv_import_stores_good_rows_and_reports_broken_ones(session, org) -> None:
    set_contact(
        session, org=org, domain="kept.example", channel="host_abuse", email="old@kept.example"
    )
    text = (
        HEADER
        + "good.example,host_abuse,abuse@good.example,,ko,,\n"  # 2
        + "kept.example,host_abuse,new@kept.example,,,,\n"  # 3: updates
        + "bad domain.example,host_abuse,abuse@x.example,,,,\n"  # 4
        + "other.example,smoke_signal,abuse@other.example,,,,\n"  # 5
        + "other.example,host_abuse,not-an-address,,,,\n"  # 6
        + "short.example,host_abuse\n"  # 7: too few fields
        + "\n"  # 8: blank, skipped
        + 'GOOD.example.,host_abuse,second@good.example,,,,"later"\n'  # 9: duplicate
        + "host.example,hosting_provider,abuse@host.example,,,203.0.113.0/24,\n"  # 10
    )
    report = import_csv(session, org=org, text=text)
    assert (report.added, report.updated) == (2, 1)
    assert [line for line, _ in report.errors] == [4, 5, 6, 7]
    assert "no spaces" in report.errors[0][1]
    assert "no channel 'smoke_signal'" in report.errors[1][1]
    assert "not an e-mail address" in report.errors[2][1]
    assert "2 fields where the header has 7" in report.errors[3][1]
    assert report.duplicates == [(9, "good.example host_abuse is already on line 2; skipped")]
    stored = {c.domain: c for c in directory.list_contacts(session, org=org)}
    assert set(stored) == {"good.example", "kept.example", "host.example"}
    assert stored["good.example"].email == "abuse@good.example"
    assert stored["good.example"].origin == "csv"
    assert stored["kept.example"].email == "new@kept.example"
    assert stored["host.example"].networks == "203.0.113.0/24"


def test_header_injection_in_a_csv_is_refused_row_by_row(session, org) -> None:
    text = (
        HEADER
        + '"evil.example",host_abuse,"abuse@evil.example\r\nBcc: all@example.net",,,,\n'
        + 'notes.example,host_abuse,abuse@notes.example,,,,"fine\rX-Injected: 1"\n'
        + 'ok.example,host_abuse,abuse@ok.example,,,,"a, quoted, note"\n'
    )
    report = import_csv(session, org=org, text=text)
    assert report.added == 1
    assert [line for line, _ in report.errors] == [2, 4]  # the first row spans lines 2-3
    assert all("line break" in message for _, message in report.errors)
    assert [c.notes for c in directory.list_contacts(session, org=org)] == ["a, quoted, note"]


def test_optional_columns_may_be_left_out_and_a_bom_is_fine(session, org) -> None:
    text = "\ufeffDomain , CHANNEL,form_url\r\nkcsc.example,kcsc,https://kcsc.example/r\r\n"
    report = import_csv(session, org=org, text=text)
    assert (report.added, report.errors) == (1, [])
    contact = directory.list_contacts(session, org=org)[0]
    assert (contact.languages, contact.networks, contact.email) == ("en", "", None)
    assert decode_csv("\ufeffdomain,channel\n".encode()) == "domain,channel\n"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("domain,channel,phone\nexample.com,host_abuse,123\n", "unknown column.*'phone'"),
        ("domain,email\nexample.com,a@example.com\n", "domain and channel are required"),
        ("domain,channel,domain\n", "named twice"),
        ("example.com,host_abuse,abuse@example.com\n", "unknown column"),
    ],
)
def test_files_refused_whole_store_nothing(session, org, text, why) -> None:
    with pytest.raises(ImportRefused, match=why):
        import_csv(session, org=org, text=text)
    assert directory.list_contacts(session, org=org) == []


def test_a_header_alone_imports_nothing(session, org) -> None:
    report = import_csv(session, org=org, text=HEADER)
    assert (report.added, report.updated, report.errors, report.duplicates) == (0, 0, [], [])


def test_non_utf8_and_oversized_files_are_refused_clearly() -> None:
    with pytest.raises(ImportRefused, match=r"not UTF-8.*0xc7 at offset 7"):
        decode_csv(b"domain,\xc7\xd1\xb1\xb9.example")  # EUC-KR, not UTF-8
    with pytest.raises(ImportRefused, match="larger than 5 MB"):
        decode_csv(b"x" * (directory.MAX_CSV_BYTES + 1))
    with pytest.raises(ImportRefused, match="larger than 5 MB"):
        directory.parse_csv(HEADER + "#" * directory.MAX_CSV_BYTES)


def test_too_many_rows_are_refused_whole(session, org, monkeypatch) -> None:
    monkeypatch.setattr(directory, "MAX_CSV_ROWS", 3)
    rows = "".join(f"s{n}.example,host_abuse,abuse@s{n}.example,,,,\n" for n in range(4))
    with pytest.raises(ImportRefused, match="more than 3 rows"):
        import_csv(session, org=org, text=HEADER + rows)
    assert directory.list_contacts(session, org=org) == []


def test_a_huge_field_is_one_broken_row(session, org) -> None:
    text = HEADER + f'a.example,host_abuse,a@a.example,,,,"{"x" * 200_000}"\n'
    text += "b.example,host_abuse,b@b.example,,,,\n"
    report = import_csv(session, org=org, text=text)
    assert report.added == 1
    assert report.errors[0][0] == 2
    assert "field larger than field limit" in report.errors[0][1]


# -- seeded authorities ----------------------------------------------------------------


def test_seeding_adds_the_authorities_once_and_never_overwrites(session, org) -> None:
    set_contact(
        session,
        org=org,
        domain="google.com",
        channel="search_engine",
        form_url="https://example.org/our-own-contact",
        notes="ours",
    )
    added = directory.seed_authorities(session, org=org)
    seeded = [c for c in directory.list_contacts(session, org=org) if c.origin == "seed"]
    assert added == len(seeded) >= 3
    assert all(c.notes.startswith(directory.SEED_NOTE) for c in seeded)
    google = find_site_contact(session, org=org, channel="search_engine", domain="google.com")
    assert google is not None
    assert (google.origin, google.notes) == ("manual", "ours")
    by_channel = {c.channel: c for c in seeded}
    assert by_channel["kcsc"].domain == "kocsc.or.kr"
    assert by_channel["kcsc"].languages == "ko"
    assert by_channel["kcsc"].form_url.startswith("https://www.kocsc.or.kr/")
    assert by_channel["hotline"].form_url == "https://report.cybertip.org/"
    bing = find_site_contact(session, org=org, channel="search_engine", domain="bing.com")
    assert bing.form_url == "https://www.microsoft.com/en-us/concern/revengeporn"
    assert directory.seed_authorities(session, org=org) == 0
