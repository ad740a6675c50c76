"""Public web previews of Telegram channels (``https://t.me/s/<channel>``).

Channels where such footage is sold and traded (the Nth Room case ran on Telegram) have a
public preview page that needs no account: the channel's latest messages, each a
``div.tgme_widget_message`` with ``data-post="<channel>/<number>"``, photos as the CSS
``background-image`` of ``a.tgme_widget_message_photo_wrap``, videos as
``video.tgme_widget_message_video`` (and a thumbnail as ``background-image`` of
``i.tgme_widget_message_video_thumb``); older messages are one link away
(``link rel="prev"`` / ``a.tme_messages_more``, ``?before=<number>``).

Each media reference keeps its message's permalink (``https://t.me/<channel>/<number>``),
which is what a takedown notice to Telegram names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from reclaim.monitor.extract import MAX_MEDIA, MediaRef, absolute, decode_page

_CHANNEL = re.compile(r"^[A-Za-z0-9_]{4,64}$")
_CSS_URL = re.compile(r"""background-image\s*:\s*url\(\s*['"]?([^'")\s]+)['"]?\s*\)""", re.I)
MAX_POSTS = 500


@dataclass
class Post:
    permalink: str
    media: list[MediaRef] = field(default_factory=list)


@dataclass
class ChannelPage:
    channel: str
    posts: list[Post] = field(default_factory=list)
    older: str | None = None
    """The preview page of the messages before these, if any."""


def preview_url(channel_or_url: str) -> str:
    """The preview page of a channel named as ``name``, ``@name``, ``t.me/name`` or a
    ``https://t.me/...`` URL; ``ValueError`` for anything else."""
    text = channel_or_url.strip()
    if "://" in text or text.startswith("t.me/"):
        parts = urlsplit(text if "://" in text else f"https://{text}")
        if parts.netloc.lower() not in ("t.me", "telegram.me"):
            raise ValueError(f"not a Telegram channel address: {channel_or_url!r}")
        segments = [s for s in parts.path.split("/") if s]
        if segments[:1] == ["s"]:
            segments = segments[1:]
        text = segments[0] if segments else ""
    name = text.removeprefix("@")
    if not _CHANNEL.fullmatch(name):
        raise ValueError(f"not a Telegram channel name: {channel_or_url!r}")
    return f"https://t.me/s/{name}"


def parse_preview(body: bytes, url: str) -> ChannelPage:
    """The posts of a channel preview page and the link to older ones. The channel is
    named by the URL (``t.me/s/<channel>``, or the last path segment of a preview served
    elsewhere, such as an archive or the demo site)."""
    try:
        channel = urlsplit(preview_url(url)).path.rsplit("/", 1)[-1]
    except ValueError:
        channel = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    parser = _Preview(url, channel)
    parser.feed(decode_page(body, "text/html; charset=utf-8"))
    parser.close()
    return parser.page


class _Preview(HTMLParser):
    def __init__(self, url: str, channel: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.page = ChannelPage(channel)
        self._post: Post | None = None
        self._media = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value is not None}
        classes = values.get("class", "").split()
        post = values.get("data-post")
        if post is not None and "tgme_widget_message" in classes:
            self._start_post(post)
        elif (tag == "link" and values.get("rel") == "prev") or "tme_messages_more" in classes:
            older = absolute(self.url, values.get("href", ""))
            if older is not None and "before=" in older and self.page.older is None:
                self.page.older = older
        if self._post is None:
            return
        if (
            "tgme_widget_message_photo_wrap" in classes
            or "tgme_widget_message_video_thumb" in classes
        ):
            self._add(_css_url(values.get("style", "")), "image")
        elif tag == "video":
            self._add(values.get("src"), "video")

    def _start_post(self, post: str) -> None:
        channel, _, number = post.partition("/")
        if not number.isdigit() or len(self.page.posts) >= MAX_POSTS:
            self._post = None
            return
        self._post = Post(f"https://t.me/{channel}/{number}")
        self.page.posts.append(self._post)

    def _add(self, reference: str | None, kind: str) -> None:
        if reference is None or self._post is None or self._media >= MAX_MEDIA:
            return
        resolved = absolute(self.url, reference)
        if resolved is not None and all(m.url != resolved for m in self._post.media):
            self._post.media.append(MediaRef(resolved, kind, "telegram"))
            self._media += 1


def _css_url(style: str) -> str | None:
    found = _CSS_URL.search(style)
    return found.group(1) if found else None
