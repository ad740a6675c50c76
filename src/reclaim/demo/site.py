"""A local demo site for the monitor: a small forum where altered copies of the demo media
circulate among unrelated pictures, served on loopback only.

It has what the sites the monitor watches have: a board with pagination, threads with
thumbnails linking to full pictures, ``srcset`` and lazy-loaded images, a video, a gallery
that only JavaScript fills, a messaging-channel preview page, a sitemap and an RSS feed,
a redirect, broken images, an endless calendar (a crawler trap) and a private section
robots.txt forbids. The planted copies of the demo media (``reclaim demo media``) are
resized and re-encoded, mirrored, cropped, shown inside a phone screenshot, and the video
is re-encoded smaller: register the originals and watch the monitor find every copy.
Nothing here leaves the machine; every picture is generated (:mod:`reclaim.demo.media`).
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import numpy as np
from PIL import Image

from reclaim.demo.media import DEMO_CLIP, make_video, render_scene

DEFAULT_HOST = "127.0.0.2"
PHOTO_SEEDS = (0, 1, 2)
"""The seeds of ``photo-1.jpg`` .. ``photo-3.jpg`` in ``reclaim demo media``."""
THREADS = 12
PER_PAGE = 4
UNRELATED_SEEDS = tuple(range(100, 100 + THREADS))

Body = tuple[int, bytes, str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class Planted:
    """An altered copy of a demo original, and where the site shows it."""

    original: str
    """``photo-1.jpg`` .. ``photo-3.jpg`` or ``clip.mp4`` of ``reclaim demo media``."""
    alteration: str
    media_path: str
    page_path: str


PLANTED = (
    Planted("photo-1.jpg", "resized to half and re-encoded", "/img/full/t1.jpg", "/thread/1"),
    Planted("photo-2.jpg", "mirrored", "/img/full/t2-mirror.jpg", "/thread/2"),
    Planted("photo-3.jpg", "cropped", "/img/full/t3.jpg", "/thread/3"),
    Planted("photo-1.jpg", "inside a phone screenshot", "/img/full/t4-screen.png", "/s/demo_leaks"),
    Planted("clip.mp4", "re-encoded smaller", "/media/t5.mp4", "/thread/5"),
    Planted("clip.mp4", "streamed as HLS", "/hls/master.m3u8", "/thread/7"),
)


def _jpeg(pixels: np.ndarray, quality: int = 80) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.LANCZOS))


def _screenshot(pixels: np.ndarray) -> np.ndarray:
    """The picture as a phone app shows it: status bar, title bar, caption, buttons."""
    width = 720
    height = round(pixels.shape[0] * width / pixels.shape[1])
    screen = np.full((1480, width, 3), 245, dtype=np.uint8)
    screen[:60] = (20, 20, 20)
    screen[60:160] = (40, 110, 200)
    top = 400
    screen[top : top + height] = _resized(pixels, width, height)
    screen[top + height + 40 : top + height + 80, 40:600] = (120, 120, 120)
    screen[1380:] = (230, 230, 230)
    return screen


@functools.cache
def _media() -> dict[str, tuple[bytes, str]]:
    """Every picture and video the site serves, generated once per process."""
    photos = [render_scene(1600, 1200, seed) for seed in PHOTO_SEEDS]
    media: dict[str, tuple[bytes, str]] = {
        "/img/full/t1.jpg": (_jpeg(_resized(photos[0], 800, 600), 70), "image/jpeg"),
        "/img/full/t2-mirror.jpg": (_jpeg(_resized(photos[1][:, ::-1], 1024, 768)), "image/jpeg"),
        "/img/full/t3.jpg": (_jpeg(photos[2][60:-60, 80:-80]), "image/jpeg"),
        "/img/full/t4-screen.png": (_png(_screenshot(photos[0])), "image/png"),
        "/img/full/p1.jpg": (_jpeg(_resized(photos[0], 1200, 900)), "image/jpeg"),
        "/img/full/broken.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 64, "image/jpeg"),
    }
    for number, seed in enumerate(UNRELATED_SEEDS, start=1):
        pixels = render_scene(640, 480, seed)
        media[f"/img/full/u{number}.jpg"] = (_jpeg(pixels), "image/jpeg")
        media[f"/img/thumb/u{number}.jpg"] = (_jpeg(_resized(pixels, 160, 120)), "image/jpeg")
    with tempfile.TemporaryDirectory() as scratch:
        original = make_video(Path(scratch) / "clip.mp4", **DEMO_CLIP)
        copy = _transcoded(original, Path(scratch) / "t5.mp4", 480, 270)
        media["/media/t5.mp4"] = (copy.read_bytes(), "video/mp4")
        for name, body in _hls(copy, Path(scratch) / "hls").items():
            kind = "application/vnd.apple.mpegurl" if name.endswith(".m3u8") else "video/mp2t"
            media[f"/hls/{name}"] = (body, kind)
    media["/hls/master.m3u8"] = (
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=480x270\nindex.m3u8\n",
        "application/vnd.apple.mpegurl",
    )
    return media


def _hls(video: Path, folder: Path) -> dict[str, bytes]:
    """``video`` cut into two-second MPEG-TS segments with their playlist (``index.m3u8``)."""
    folder.mkdir()
    options = {
        "hls_time": "2",
        "hls_list_size": "0",
        "hls_playlist_type": "vod",
        "hls_segment_filename": str(folder / "seg%03d.ts"),
    }
    with av.open(str(video)) as reading:
        stream_in = reading.streams.video[0]
        with av.open(str(folder / "index.m3u8"), "w", format="hls", options=options) as writing:
            stream = writing.add_stream_from_template(stream_in)
            for packet in reading.demux(stream_in):
                if packet.dts is None:
                    continue
                packet.stream = stream
                writing.mux(packet)
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _transcoded(source: Path, target: Path, width: int, height: int) -> Path:
    """``source`` decoded and encoded again, smaller and at a lower quality."""
    with av.open(str(source)) as reading, av.open(str(target), mode="w") as writing:
        stream_in = reading.streams.video[0]
        fps = round(stream_in.average_rate or 30)
        stream: Any = writing.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.options = {"preset": "veryfast", "crf": "30"}
        for index, frame in enumerate(reading.decode(stream_in)):
            smaller = frame.reformat(width=width, height=height, format="yuv420p")
            smaller.pts, smaller.time_base = index, Fraction(1, fps)
            for packet in stream.encode(smaller):
                writing.mux(packet)
        for packet in stream.encode(None):
            writing.mux(packet)
    return target


def _page(title: str, body: str, lang: str = "ko") -> bytes:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>"
        f'<nav><a href="/">홈</a> <a href="/board?page=1">자유게시판</a> '
        f'<a href="/gallery">갤러리</a> <a href="/calendar/2026/1">달력</a></nav>'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    ).encode()


def _thread(number: int) -> bytes:
    parts = [f'<p>게시물 {number}번입니다.</p><img src="/img/full/u{number}.jpg" alt="">']
    if number == 1:
        parts.append('<a href="/img/full/t1.jpg"><img src="/img/thumb/u1.jpg"></a>')
    elif number == 2:
        parts.append('<img srcset="/img/full/t2-mirror.jpg 2x, /img/thumb/u2.jpg 1x">')
    elif number == 3:
        parts.append(
            '<img class="lazy" src="data:image/gif;base64,R0lGOD" data-src="/img/full/t3.jpg">'
        )
        parts.append('<img src="/img/full/broken.jpg" alt="broken">')
    elif number == 5:
        parts.append('<video controls poster="/img/thumb/u5.jpg" src="/media/t5.mp4"></video>')
    elif number == 7:
        parts.append(
            '<video controls><source src="/hls/master.m3u8" type="application/x-mpegURL"></video>'
        )
    elif number == 6:
        parts.append('<p><a href="/private/archive">비공개 자료실</a></p>')
        parts.append('<p style="background-image: url(/img/full/u7.jpg)">배경</p>')
    following = f'<p><a href="/thread/{number % THREADS + 1}">다음 글</a></p>'
    return _page(f"게시물 {number}", "".join(parts) + following)


def _board(page: int) -> bytes:
    pages = (THREADS + PER_PAGE - 1) // PER_PAGE
    rows = []
    for number in range((page - 1) * PER_PAGE + 1, min(THREADS, page * PER_PAGE) + 1):
        target = f"/go/{number}" if number == 4 else f"/thread/{number}"
        rows.append(
            f'<li><a href="{target}"><img loading="lazy" src="/img/thumb/u{number}.jpg">'
            f"게시물 {number}</a></li>"
        )
    pager = " ".join(f'<a href="/board?page={n}">{n}</a>' for n in range(1, pages + 1))
    return _page(f"자유게시판 {page}쪽", f"<ul>{''.join(rows)}</ul><p>{pager}</p>")


def _channel() -> bytes:
    posts = []
    for number, image in ((101, "/img/full/u9.jpg"), (102, "/img/full/t4-screen.png")):
        posts.append(
            f'<div class="tgme_widget_message" data-post="demo_leaks/{number}">'
            f'<a class="tgme_widget_message_photo_wrap" style="background-image:url(\'{image}\')"'
            f' href="https://t.me/demo_leaks/{number}"></a></div>'
        )
    return _page("demo_leaks", "".join(posts), lang="en")


def _calendar(year: int, month: int) -> bytes:
    following = (year + month // 12, month % 12 + 1)
    link = f'<a href="/calendar/{following[0]}/{following[1]}">다음 달</a>'
    return _page(f"{year}년 {month}월", f"<p>일정 없음</p>{link}")


GALLERY_SCRIPT = """
<div id="gallery"></div>
<script>
const pictures = ["/img/full/u10.jpg", "/img/full/u11.jpg"];
for (const src of pictures) {
  const img = document.createElement("img");
  img.src = src;
  document.getElementById("gallery").appendChild(img);
}
</script>
"""


def _sitemap(base: str) -> bytes:
    urls = "".join(f"<url><loc>{base}/thread/{n}</loc></url>" for n in range(1, THREADS + 1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def _feed(base: str) -> bytes:
    items = "".join(
        f"<item><title>게시물 {n}</title><link>{base}/thread/{n}</link></item>" for n in range(1, 4)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>자유게시판</title>{items}</channel></rss>"
    ).encode()


ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def respond(path: str, query: str, base: str) -> Body:
    """The site's answer to a GET of ``path`` (and ``query``)."""
    media = _media()
    html_type = "text/html; charset=utf-8"
    if path in media:
        body, content_type = media[path]
        return 200, body, content_type, {"ETag": f'"{hashlib.sha256(body).hexdigest()[:16]}"'}
    if path == "/":
        intro = "<p>Reclaim 데모 사이트: 모든 사진은 생성된 것입니다.</p>"
        return 200, _page("데모 포럼", intro + '<a href="/board?page=1">게시판</a>'), html_type, {}
    if path == "/board":
        page = parse_qs(query).get("page", ["1"])[0]
        number = int(page) if page.isdigit() else 0
        if not 1 <= number <= (THREADS + PER_PAGE - 1) // PER_PAGE:
            return 404, b"no such page", "text/plain", {}
        return 200, _board(number), html_type, {}
    if path.startswith("/thread/") and path[8:].isdigit() and 1 <= int(path[8:]) <= THREADS:
        return 200, _thread(int(path[8:])), html_type, {}
    if path.startswith("/go/") and path[4:].isdigit():
        return 302, b"", "text/plain", {"Location": f"/thread/{path[4:]}"}
    if path == "/s/demo_leaks":
        return 200, _channel(), html_type, {}
    if path == "/gallery":
        return 200, _page("갤러리", GALLERY_SCRIPT), html_type, {}
    if path.startswith("/calendar/"):
        parts = path.split("/")[2:]
        if len(parts) == 2 and all(p.isdigit() for p in parts) and 1 <= int(parts[1]) <= 12:
            return 200, _calendar(int(parts[0]), int(parts[1])), html_type, {}
    if path == "/private/archive":
        body = _page("비공개", '<img src="/img/full/p1.jpg">')
        return 200, body, html_type, {}
    if path == "/robots.txt":
        return 200, ROBOTS, "text/plain", {}
    if path == "/sitemap.xml":
        return 200, _sitemap(base), "application/xml", {}
    if path == "/feed.xml":
        return 200, _feed(base), "application/rss+xml", {}
    return 404, _page("없음", "<p>찾을 수 없습니다.</p>"), html_type, {}


@dataclass
class DemoSite:
    """A running demo site; ``requests`` lists every path asked for, in order."""

    server: ThreadingHTTPServer
    requests: list[str]

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(host: str = DEFAULT_HOST, port: int = 0, *, background: bool = True) -> DemoSite:
    """Start the demo site on ``host:port`` (port 0: any free one)."""
    requests: list[str] = []
    lock = threading.Lock()
    site: DemoSite

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ReclaimDemo/1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with lock:
                requests.append(parts.path)
            status, body, content_type, headers = respond(parts.path, parts.query, site.base_url)
            if headers.get("ETag") and self.headers.get("If-None-Match") == headers["ETag"]:
                status, body = 304, b""
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    _media()  # generate before listening, so the first crawl does not wait on it
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    site = DemoSite(server, requests)
    if background:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return site
