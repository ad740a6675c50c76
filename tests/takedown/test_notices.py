"""Notice rendering: every channel in every language says what a notice must say, cites the
right law, shows text from the web harmlessly, and refuses to render half a notice."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone

import jinja2
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from reclaim.takedown.channels import CHANNELS, Channel, Hotline, LegalBasis
from reclaim.takedown.notices import (
    LANGUAGES,
    LOCALES,
    TEMPLATES,
    Listed,
    NoticeContext,
    NoticeIncomplete,
    Rendered,
    _render_template,
    legal_text,
    render_notice,
)

KST = timezone(timedelta(hours=9))
SHA_A, SHA_B, SHA_E = "a1" * 32, "b2" * 32, "e3" * 32
FORM = "https://forms.example.net/report?lang=ko"
CHANNEL_IDS = [c.name for c in CHANNELS]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
KOREAN_NAMES = {
    LegalBasis.KR_SEXUAL_CRIMES: "성폭력범죄의 처벌 등에 관한 특례법",
    LegalBasis.KR_TELECOM: "전기통신사업법",
    LegalBasis.CHILD_PROTECTION: "아동·청소년의 성보호에 관한 법률",
    LegalBasis.COPYRIGHT: "저작권법",
}
ARTICLES = {
    "en": {
        LegalBasis.KR_SEXUAL_CRIMES: ["Article 14", "Article 14-2"],
        LegalBasis.KR_TELECOM: ["Article 22-5"],
        LegalBasis.EU_DSA: ["2022/2065", "Article 16(2)", "(a)", "(b)", "(c)", "(d)"],
        LegalBasis.COPYRIGHT: ["§ 512", "Article 103"],
        LegalBasis.CHILD_PROTECTION: ["Article 11", "must not be downloaded or forwarded"],
    },
    "ko": {
        LegalBasis.KR_SEXUAL_CRIMES: ["제14조", "제14조의2"],
        LegalBasis.KR_TELECOM: ["제22조의5"],
        LegalBasis.EU_DSA: ["2022/2065", "제16조제2항", "(a)", "(b)", "(c)", "(d)"],
        LegalBasis.COPYRIGHT: ["§ 512", "제103조"],
        LegalBasis.CHILD_PROTECTION: ["제11조", "내려받거나 전달해서는 안"],
    },
}
NO_IMAGES = {"en": "No image or video is attached", "ko": "어떠한 이미지나 영상도 첨부하거나"}
DSA_MINOR = {"en": "Articles 3 to 7 of Directive 2011/93/EU", "ko": "제3조부터 제7조까지"}


def listed(n: int = 1, **changes: object) -> Listed:
    base = Listed(
        page_url=f"https://videos.example.com/watch/{n}",
        media_url=f"https://cdn.example.com/m/{n}.mp4",
        first_seen=datetime(2024, 5, 1, 21, 0, tzinfo=KST),  # 12:00 UTC
        last_seen=datetime(2024, 5, 3, 8, 30, tzinfo=UTC),
        media_sha256=SHA_A if n == 1 else SHA_B,
        page_title="Ordinary title",
        evidence_ref=f"E-{40 + n}",
        evidence_sha256=SHA_E,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def context(channel: type[Channel], language: str = "en", **changes: object) -> NoticeContext:
    base = NoticeContext(
        reference="RCL-7-000123",
        channel=channel,
        language=language,
        site="videos.example.com",
        organisation="Seoul Support Desk",
        notifier_email="desk@support.example.org",
        notifier_phone="+82 2 0000 0000",
        items=[listed(1), listed(2, evidence_ref=None, evidence_sha256=None, page_title=None)],
        minor=channel is Hotline,
        recipient="abuse@videos.example.com",
        drafted=datetime(2024, 5, 4, 9, 0, tzinfo=UTC),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def outputs(rendered: Rendered) -> list[str]:
    return [rendered.subject, rendered.text, rendered.html]


def heading(basis: LegalBasis, language: str) -> str:
    return legal_text(basis, language).splitlines()[0]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS, ids=CHANNEL_IDS)
@pytest.mark.parametrize("form", [False, True], ids=["letter", "form"])
def test_every_required_element_is_there(channel: type[Channel], language: str, form: bool):
    ctx = context(channel, language, form_url=FORM if form else None)
    rendered = render_notice(ctx)
    for body in (rendered.text, rendered.html):
        for expected in (
            "RCL-7-000123",
            "videos.example.com",
            "Seoul Support Desk",
            "desk@support.example.org",
            "+82 2 0000 0000",
            "2024-05-01 12:00:00 UTC",
            "2024-05-03 08:30:00 UTC",
            "E-41",
            SHA_A,
            SHA_B,
            SHA_E,
            NO_IMAGES[language],
        ):
            assert expected in body
        for item in ctx.items:
            assert item.page_url in body
            assert item.media_url in body
        assert "E-42" not in body  # the second item has no evidence record
        assert (FORM.replace("&", "&amp;") in body) is form
    assert "RCL-7-000123" in rendered.subject
    assert "videos.example.com" in rendered.subject
    assert rendered.html.startswith("<!doctype html>")
    assert f'<html lang="{language}">' in rendered.html
    if language == "ko":
        assert HANGUL.search(rendered.subject)
        assert HANGUL.search(rendered.text)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS, ids=CHANNEL_IDS)
@pytest.mark.parametrize("copyright", [False, True])
@pytest.mark.parametrize("minor", [False, True])
def test_legal_bases_per_channel(channel: type[Channel], language: str, copyright, minor):
    rendered = render_notice(context(channel, language, copyright=copyright, minor=minor))
    cited = channel.legal_bases(copyright=copyright, minor=minor)
    assert (LegalBasis.COPYRIGHT in cited) == (copyright and LegalBasis.COPYRIGHT in channel.bases)
    assert (LegalBasis.CHILD_PROTECTION in cited) == (minor or channel is Hotline)
    for basis in LegalBasis:
        assert (heading(basis, language) in rendered.text) == (basis in cited), basis
    for basis in cited:
        for phrase in ARTICLES[language][basis]:
            assert phrase in rendered.text, (basis, phrase)
        if language == "ko" and basis in KOREAN_NAMES:
            assert KOREAN_NAMES[basis] in rendered.text
    dsa_minor = minor and LegalBasis.EU_DSA in cited
    assert (DSA_MINOR[language] in rendered.text) == dsa_minor


@pytest.mark.parametrize("language", LANGUAGES)
def test_hotline_asks_for_assessment_and_referral_without_passing_the_material(language):
    text = render_notice(context(Hotline, language)).text
    if language == "en":
        assert "forward this report to the competent law enforcement authority" in text
        assert "must not be forwarded, downloaded or viewed more than" in text
    else:
        assert "관할 수사기관에 전달" in text
        assert "전달하거나 내려받아서는 안 되며" in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS, ids=CHANNEL_IDS)
def test_form_channels_read_as_filled_fields(channel: type[Channel], language: str):
    text = render_notice(context(channel, language, form_url=FORM)).text
    fields = {
        "en": ["[URL(s)]", "[Description]", "[Legal basis]", "[Contact]"],
        "ko": ["[URL]", "[내용 설명]", "[법적 근거]", "[연락처]"],
    }[language]
    positions = [text.index(field) for field in fields]
    assert positions == sorted(positions)
    url_field = text[positions[0] : positions[1]]
    for item in context(channel).items:
        assert item.page_url in url_field
        assert item.media_url in url_field
    assert text.splitlines()[0].endswith(f": {FORM}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_reupload_and_escalation_wording(language):
    channel = CHANNELS[0]
    again = {"en": "has been uploaded again", "ko": "다시 게시되었습니다"}[language]
    follows = {"en": "follows our earlier notice", "ko": "이전 통지(RCL-7-000100)에 이어"}[language]
    plain = render_notice(context(channel, language))
    reupload = render_notice(context(channel, language, reupload=True))
    both = render_notice(
        context(channel, language, reupload=True, previous_reference="RCL-7-000100")
    )
    escalation = render_notice(context(channel, language, previous_reference="RCL-7-000100"))
    assert again not in plain.text
    assert follows not in plain.text
    assert again in reupload.text
    assert "RCL-7-000100" not in reupload.text
    assert again in both.text
    assert "RCL-7-000100" in both.text
    assert follows in escalation.text
    assert again not in escalation.text
    prefix = {"en": "Re-upload", "ko": "재게시"}[language]
    assert reupload.subject.startswith(f"[RCL-7-000123] {prefix}: ")
    assert prefix not in plain.subject


HOSTILE_TITLES = {
    "crlf": "Hot\r\nSubject: injected\r\n\r\nReference: RCL-9-999999",
    "script": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "huge": "x" * 100_000,
    "invisible": "abc\u202edcba\u200b\u2066zz\u2069\u200d\x00\x1b[31m\u2028end",
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", HOSTILE_TITLES)
def test_hostile_page_titles_are_shown_harmlessly(kind: str, language: str):
    title = HOSTILE_TITLES[kind]
    rendered = render_notice(context(CHANNELS[0], language, items=[listed(1, page_title=title)]))
    assert "\r" not in rendered.text
    assert "\n" not in rendered.subject
    title_lines = [
        line for line in rendered.text.splitlines() if "injected" in line or "xxx" in line
    ]
    for line in title_lines:
        assert len(line) < 260
    for body in (rendered.subject, rendered.html):
        assert "<script" not in body
        assert "<img" not in body
    for body in outputs(rendered):
        assert not set(body) & set("\u202e\u200b\u2066\u2069\u200d\x00\x1b\u2028")
    if kind == "crlf":
        (line,) = [line for line in rendered.text.splitlines() if "injected" in line]
        assert "Hot Subject: injected Reference: RCL-9-999999" in line
        assert "RCL-9-999999" not in rendered.subject
    if kind == "script":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x" in rendered.html
        assert "<script>alert(1)</script>" in rendered.text  # plain text: shown as is
    if kind == "huge":
        assert len(rendered.text) < 10_000
        assert '"' + "x" * 199 + '…"' in rendered.text
        assert "x" * 200 not in rendered.text
    if kind == "invisible":
        assert "abcdcbazz" in rendered.text
        assert "end" in rendered.text


def test_hostile_urls_stay_exact_and_on_one_line():
    item = listed(1, page_url="https://videos.example.com/a b\r\nX-Header: 1\u202e")
    text = render_notice(context(CHANNELS[0], items=[item])).text
    assert "https://videos.example.com/a%20b%0D%0AX-Header:%201%E2%80%AE" in text
    assert "\nX-Header" not in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS, ids=CHANNEL_IDS)
def test_subject_is_one_clean_line(channel: type[Channel], language: str):
    site = "x" * 300 + ".example.com\r\nBcc: someone@example.org"
    for ctx in (context(channel, language), context(channel, language, site=site)):
        subject = render_notice(ctx).subject
        assert 0 < len(subject) <= 200
        assert subject.startswith("[RCL-7-000123] ")
        assert not any(ord(char) < 32 or char == "\x7f" for char in subject)
        assert "Ordinary title" not in subject


def test_no_imagery_ever():
    for template in TEMPLATES.glob("*.j2"):
        source = template.read_text(encoding="utf-8").lower()
        assert "<img" not in source, template.name
        assert "data:" not in source, template.name
    for channel in CHANNELS:
        for language in LANGUAGES:
            for ctx in (context(channel, language), context(channel, language, form_url=FORM)):
                for body in outputs(render_notice(ctx)):
                    assert "<img" not in body.lower()
                    assert "data:" not in body.lower()


def test_the_context_cannot_name_the_survivor():
    names = {f.name for f in dataclasses.fields(NoticeContext)}
    names |= {f.name for f in dataclasses.fields(Listed)}
    for forbidden in ("name", "case", "survivor", "victim", "person"):
        assert not [n for n in names if forbidden in n], forbidden


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS, ids=CHANNEL_IDS)
def test_output_holds_only_what_the_context_gave(channel: type[Channel], language: str):
    ctx = context(channel, language, form_url=FORM, previous_reference="RCL-7-000100")
    text = render_notice(ctx).text
    urls = {FORM} | {i.page_url for i in ctx.items} | {i.media_url for i in ctx.items}
    assert set(re.findall(r"https?://[^\s)\"]+", text)) <= urls
    assert set(re.findall(r"RCL-[\w-]+", text)) <= {"RCL-7-000123", "RCL-7-000100"}
    assert set(re.findall(r"[0-9a-f]{64}", text)) <= {SHA_A, SHA_B, SHA_E}
    assert set(re.findall(r"[\w.+-]+@[\w.-]+", text)) <= {ctx.notifier_email, ctx.recipient}
    assert set(re.findall(r"\bE-\d+", text)) <= {"E-41"}


def test_a_missing_variable_refuses_the_notice():
    loader = jinja2.DictLoader(
        {
            "missing.j2": "{{ reference }} {{ case_number }}",
            "attribute.j2": "{% for item in items %}{{ item.survivor_name }}{% endfor %}",
            "trans.j2": "{% trans %}Site {{ site }}{% endtrans %} {{ _('%(nope)s', x=1) }}",
            "include.j2": "{% include 'nowhere.j2' %}",
        }
    )
    ctx = context(CHANNELS[0])
    for name in ("missing.j2", "attribute.j2", "trans.j2", "include.j2"):
        for html in (False, True):
            with pytest.raises(NoticeIncomplete):
                _render_template(name, ctx, html=html, loader=loader)
    assert _render_template("missing.j2", ctx, loader=jinja2.DictLoader({"missing.j2": "ok"}))


@pytest.mark.parametrize(
    "changes",
    [
        {"items": []},
        {"language": "fr"},
        {"language": "KO"},
        {"reference": " \r\n"},
        {"site": ""},
        {"organisation": "\u200b"},
        {"notifier_email": None, "notifier_phone": None},
        {"notifier_email": None},  # the DSA's Art. 16(2)(c) wants it
        {"drafted": datetime(2024, 5, 4, 9, 0)},
        {"items": [listed(1, first_seen=datetime(2024, 5, 1))]},
        {"items": [listed(1, media_sha256=" ")]},
    ],
    ids=lambda c: ",".join(c),
)
def test_incomplete_notices_are_refused(changes: dict[str, object]):
    with pytest.raises(NoticeIncomplete):
        render_notice(context(CHANNELS[0], **changes))


@pytest.mark.parametrize("channel", CHANNELS, ids=CHANNEL_IDS)
def test_phone_only_notifier(channel: type[Channel]):
    """Without an e-mail address only notices not citing the DSA, or concerning a minor
    (Art. 16(2)(c) exception), are rendered."""
    for minor in (False, True):
        ctx = context(channel, notifier_email=None, minor=minor)
        dsa = LegalBasis.EU_DSA in channel.legal_bases(copyright=False, minor=minor)
        if dsa and not minor:
            with pytest.raises(NoticeIncomplete):
                render_notice(ctx)
        else:
            assert "+82 2 0000 0000" in render_notice(ctx).text


def test_unknown_channel_template_is_refused():
    class Unknown(Channel):
        name = "no_such_channel"
        label = {"en": "nothing", "ko": "없음"}  # noqa: RUF012
        bases = (LegalBasis.EU_DSA,)

    with pytest.raises(NoticeIncomplete):
        render_notice(context(Unknown))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("basis", LegalBasis)
def test_legal_text_stands_alone(basis: LegalBasis, language: str):
    text = legal_text(basis, language)
    assert len(text.splitlines()) >= 2
    assert "{" not in text
    paragraph = text.splitlines()[1]
    if language == "ko":
        assert HANGUL.search(paragraph)
        assert not re.search(r"\b(the|of)\b", paragraph)
    else:
        assert re.search(r"\bthe\b", paragraph)
    if basis is LegalBasis.EU_DSA:
        assert DSA_MINOR[language] not in text
        assert DSA_MINOR[language] in legal_text(basis, language, minor=True)
    with pytest.raises(NoticeIncomplete):
        legal_text(basis, "de")


def _extracted() -> dict[str, str]:
    """Every message of the templates, extracted the way babel.cfg says."""
    messages = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        TEMPLATES,
        method_map=[("**.j2", "jinja2.ext:babel_extract")],
        options_map={"**.j2": {"trimmed": "true", "newstyle_gettext": "true"}},
    ):
        assert isinstance(message, str), f"{filename}: plural messages are not translated yet"
        messages[message] = filename
    return messages


def _catalog(language: str):
    path = LOCALES / language / "LC_MESSAGES" / "notices.po"
    with path.open("rb") as po:
        return read_po(po, locale=language)


def test_korean_catalog_is_complete():
    extracted = _extracted()
    assert len(extracted) > 40
    catalog = _catalog("ko")
    placeholder = re.compile(r"%\((\w+)\)s")
    for msgid, filename in extracted.items():
        message = catalog.get(msgid)
        assert message is not None, f"{filename}: {msgid!r} is not in the ko catalog"
        assert message.string, f"{filename}: {msgid!r} is untranslated"
        assert not message.fuzzy, f"{filename}: {msgid!r} is fuzzy"
        assert HANGUL.search(message.string) or msgid == "URL(s)", msgid
        found, wanted = placeholder.findall(message.string), placeholder.findall(msgid)
        assert sorted(found) == sorted(wanted), msgid
        assert "%" not in placeholder.sub("", message.string), msgid
    in_catalog = {m.id for m in catalog if m.id}
    assert in_catalog == set(extracted), "stale messages in the ko catalog"
    assert {m.id for m in _catalog("en") if m.id} == set(extracted)


@pytest.mark.parametrize("channel", CHANNELS, ids=CHANNEL_IDS)
def test_korean_notices_contain_no_english_sentences(channel: type[Channel]):
    long_messages = [m for m in _extracted() if len(m) > 25 and "(" not in m[:25]]
    for ctx in (
        context(channel, "ko", copyright=True, minor=True, reupload=True),
        context(channel, "ko", form_url=FORM, previous_reference="RCL-7-000100"),
    ):
        rendered = render_notice(ctx)
        for message in long_messages:
            assert message.split("%(")[0][:25] not in rendered.text, message
