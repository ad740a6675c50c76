"""Notice channels: one small class per way of asking for removal, all in one list.

A channel says whom it addresses (the site itself, the site's hosting provider, or an
authority such as a search engine, the KCSC or a hotline, each one entry of the contact
directory), which legal bases its notice cites, and for which cases it is meant. Whether a
notice is mailed or handed to a person to submit through a web form follows from the
contact: an e-mail address is mailed, a form URL is filled in for a person.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import ClassVar


class Reach(enum.StrEnum):
    SITE = "site"
    """The contact of the site the content is on (directory, security.txt, abuse@)."""
    NETWORK = "network"
    """The hosting provider whose network holds the site's server address."""
    AUTHORITY = "authority"
    """Every directory entry of the channel (each search engine, the KCSC, a hotline)."""
    GIVEN = "given"
    """An address a person types in."""


class LegalBasis(enum.StrEnum):
    KR_SEXUAL_CRIMES = "kr_sexual_crimes"
    """Act on Special Cases Concerning the Punishment of Sexual Crimes, Art. 14 (illegal
    filming and distribution) and 14-2 (deepfakes)."""
    KR_TELECOM = "kr_telecom"
    """Telecommunications Business Act Art. 22-5: providers' duty to delete or block
    illegally filmed material on request of the victim or an agency acting for her."""
    EU_DSA = "eu_dsa"
    """Regulation (EU) 2022/2065 (Digital Services Act) Art. 16 notice elements."""
    COPYRIGHT = "copyright"
    """The survivor made the image herself: a copyright notice too."""
    CHILD_PROTECTION = "child_protection"
    """Material showing a minor (Act on the Protection of Children and Youth against Sex
    Offences, Art. 11; Directive 2011/93/EU)."""


class Channel:
    """A way of asking for removal. Subclasses set the class attributes."""

    name: ClassVar[str]
    label: ClassVar[dict[str, str]]
    """Shown to people, by language."""
    reach: ClassVar[Reach]
    bases: ClassVar[tuple[LegalBasis, ...]]
    for_minors: ClassVar[bool | None] = None
    """True: only for cases concerning a minor; False: never for them; None: any case."""

    @classmethod
    def applies(cls, *, minor: bool) -> bool:
        return cls.for_minors is None or cls.for_minors == minor

    @classmethod
    def legal_bases(cls, *, copyright: bool, minor: bool) -> tuple[LegalBasis, ...]:
        """The legal bases this notice cites."""
        bases = [b for b in cls.bases if b is not LegalBasis.COPYRIGHT or copyright]
        if minor and LegalBasis.CHILD_PROTECTION not in bases:
            bases.append(LegalBasis.CHILD_PROTECTION)
        return tuple(bases)


class HostAbuse(Channel):
    name = "host_abuse"
    label: ClassVar[dict[str, str]] = {
        "ko": "사이트 운영자 신고 창구",
        "en": "the site's abuse contact",
    }
    reach = Reach.SITE
    bases = (
        LegalBasis.KR_SEXUAL_CRIMES,
        LegalBasis.KR_TELECOM,
        LegalBasis.EU_DSA,
        LegalBasis.COPYRIGHT,
    )


class HostingProvider(Channel):
    name = "hosting_provider"
    label: ClassVar[dict[str, str]] = {"ko": "호스팅 업체", "en": "the site's hosting provider"}
    reach = Reach.NETWORK
    bases = (
        LegalBasis.KR_SEXUAL_CRIMES,
        LegalBasis.KR_TELECOM,
        LegalBasis.EU_DSA,
        LegalBasis.COPYRIGHT,
    )


class SearchEngine(Channel):
    name = "search_engine"
    label: ClassVar[dict[str, str]] = {
        "ko": "검색 엔진 (검색 결과 삭제)",
        "en": "a search engine (de-indexing)",
    }
    reach = Reach.AUTHORITY
    bases = (LegalBasis.KR_SEXUAL_CRIMES, LegalBasis.KR_TELECOM, LegalBasis.EU_DSA)


class Kcsc(Channel):
    name = "kcsc"
    label: ClassVar[dict[str, str]] = {
        "ko": "방송통신심의위원회 (삭제·차단 요청)",
        "en": "the Korea Communications Standards Commission (deletion/blocking)",
    }
    reach = Reach.AUTHORITY
    bases = (LegalBasis.KR_SEXUAL_CRIMES, LegalBasis.KR_TELECOM)


class Hotline(Channel):
    name = "hotline"
    label: ClassVar[dict[str, str]] = {
        "ko": "아동 성착취물 신고 핫라인",
        "en": "a hotline for child sexual abuse material (INHOPE member, NCMEC)",
    }
    reach = Reach.AUTHORITY
    bases = (LegalBasis.CHILD_PROTECTION,)
    for_minors = True


class Email(Channel):
    name = "email"
    label: ClassVar[dict[str, str]] = {
        "ko": "전자우편 (직접 지정)",
        "en": "e-mail to an address given by a person",
    }
    reach = Reach.GIVEN
    bases = (LegalBasis.KR_SEXUAL_CRIMES, LegalBasis.KR_TELECOM, LegalBasis.EU_DSA)


CHANNELS: Sequence[type[Channel]] = (HostAbuse, HostingProvider, SearchEngine, Kcsc, Hotline, Email)
"""Every channel, in one list."""


def _check_unique() -> dict[str, type[Channel]]:
    by_name: dict[str, type[Channel]] = {}
    for channel in CHANNELS:
        if channel.name in by_name:
            raise RuntimeError(f"two channels are named {channel.name!r}")
        by_name[channel.name] = channel
    return by_name


BY_NAME = _check_unique()


class UnknownChannel(ValueError):
    """A channel name that is not in :data:`CHANNELS`."""


def channel(name: str) -> type[Channel]:
    """The channel called ``name``."""
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(BY_NAME)
        raise UnknownChannel(f"no channel {name!r} (channels: {known})") from None


def ladder(names: str, *, minor: bool) -> list[type[Channel]]:
    """The channels tried one after another (comma-separated ``names``); for a minor's
    case the hotline comes first, and channels not meant for the case are left out."""
    chosen = [channel(name.strip()) for name in names.split(",") if name.strip()]
    if minor and Hotline not in chosen:
        chosen.insert(0, Hotline)
    return [c for c in chosen if c.applies(minor=minor)]
