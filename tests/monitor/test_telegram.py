"""Telegram channel previews: posts, their photos and videos, older pages, hostile input."""

from __future__ import annotations

import pytest

from reclaim.monitor.telegram import parse_preview, preview_url

PREVIEW = """<!DOCTYPE html><html><head>
<link rel="prev" href="/s/leakroom?before=118">
</head><body>
<a class="tme_messages_more" href="/s/leakroom?before=118" data-before="118"></a>
<div class="tgme_widget_message_wrap"><div
  class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="leakroom/118">
  <a class="tgme_widget_message_photo_wrap 1234 blured" href="https://t.me/leakroom/118?single"
     style="width:800px;background-image:url('https://cdn4.telesco.pe/file/abc.jpg')"></a>
  <a class="tgme_widget_message_photo_wrap" style="background-image:url(https://cdn4.telesco.pe/file/def.jpg)"></a>
  <div class="tgme_widget_message_text">새 영상 업로드 &amp; 링크</div>
</div></div>
<div class="tgme_widget_message_wrap"><div
  class="tgme_widget_message js-widget_message" data-post="leakroom/119">
  <a class="tgme_widget_message_video_player" href="https://t.me/leakroom/119">
    <i class="tgme_widget_message_video_thumb"
       style="background-image:url('https://cdn4.telesco.pe/file/thumb.jpg')"></i>
    <video src="https://cdn4.telesco.pe/file/clip.mp4?token=x"
           class="tgme_widget_message_video js-message_video"></video>
  </a>
</div></div>
<div class="tgme_widget_message" data-post="leakroom/not-a-number">
  <a class="tgme_widget_message_photo_wrap" style="background-image:url('https://cdn4.telesco.pe/file/zzz.jpg')"></a>
</div>
</body></html>"""


def test_posts_media_and_the_older_page() -> None:
    page = parse_preview(PREVIEW.encode(), "https://t.me/s/leakroom")
    assert page.channel == "leakroom"
    assert page.older == "https://t.me/s/leakroom?before=118"
    assert [(p.permalink, [(m.url, m.kind) for m in p.media]) for p in page.posts] == [
        (
            "https://t.me/leakroom/118",
            [
                ("https://cdn4.telesco.pe/file/abc.jpg", "image"),
                ("https://cdn4.telesco.pe/file/def.jpg", "image"),
            ],
        ),
        (
            "https://t.me/leakroom/119",
            [
                ("https://cdn4.telesco.pe/file/thumb.jpg", "image"),
                ("https://cdn4.telesco.pe/file/clip.mp4?token=x", "video"),
            ],
        ),
    ]


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("leakroom", "https://t.me/s/leakroom"),
        ("@leakroom", "https://t.me/s/leakroom"),
        ("t.me/leakroom", "https://t.me/s/leakroom"),
        ("https://t.me/leakroom/118", "https://t.me/s/leakroom"),
        ("https://t.me/s/leakroom?before=5", "https://t.me/s/leakroom"),
        ("https://telegram.me/leakroom", "https://t.me/s/leakroom"),
    ],
)
def test_channels_are_named_many_ways(given: str, url: str) -> None:
    assert preview_url(given) == url


@pytest.mark.parametrize(
    "given", ["https://evil.example/leakroom", "ab", "lea/kroom", "https://t.me/", "../etc"]
)
def test_other_addresses_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="Telegram"):
        preview_url(given)


@pytest.mark.parametrize(
    "garbage",
    [b"", b"<div data-post='x/1' class='tgme_widget_message'>" * 1000, b"\xff" * 100],
)
def test_garbage_pages_yield_nothing_harmful(garbage: bytes) -> None:
    page = parse_preview(garbage, "https://t.me/s/leakroom")
    assert all(m.url.startswith("https://") for p in page.posts for m in p.media)
    assert len(page.posts) <= 500
