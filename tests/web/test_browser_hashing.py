"""In-browser hashing (src/reclaim/web/static/hashing/) against the Python it must equal.

A survivor's browser computes the signals of her pictures; the server stores what it sends
and matches against it, so the JavaScript must give what Python gives for the same pixels:
the same PDQ hex and quality, the same 8 rotations and mirrors, the same grid cells and the
same anchored regions, serialised the same way -- compared here as the exact JSON text.
The tests serve the static files and a harness page (tests/web/pages/) from 127.0.0.1 and
drive Debian's Chromium with Playwright; pixels and files reach the page from the same
loopback server, decoded in Python with Pillow where both sides must see the same pixels.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from reclaim.demo.media import make_photo, render_scene
from reclaim.media.image import decode_image
from reclaim.media.limits import MediaLimits
from reclaim.media.sniff import sniff_file
from reclaim.signals.base import hamming
from reclaim.signals.filehash import HashRequest, hash_file
from reclaim.signals.pdq import DIHEDRAL_NAMES, pdq_from_rgb
from reclaim.signals.pdq_anchors import regions_from_json
from reclaim.signals.pdq_core import DCT_MATRIX

from ..monitor.conftest import require_chromium

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "reclaim" / "web" / "static"
PAGES = Path(__file__).resolve().parent / "pages"
CSP = (
    "default-src 'self'; script-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RGB = npt.NDArray[np.uint8]


@dataclass
class Served:
    """The loopback server: /static/ and /pages/ from the tree, /data/ from a temp dir."""

    url: str
    data: Path

    def put(self, name: str, payload: bytes) -> str:
        (self.data / name).write_bytes(payload)
        return f"/data/{name}"


def _handler(roots: dict[str, Path], csp: str = CSP) -> type[BaseHTTPRequestHandler]:
    """Serves ``/<prefix>/<path>`` from ``roots[prefix]`` (never outside it) under ``csp``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/favicon.ico":  # asked for by every page; none needed
                self.send_response(204)
                self.end_headers()
                return
            prefix, _, rest = self.path.split("?")[0].lstrip("/").partition("/")
            root = roots.get(prefix)
            target = (root / rest).resolve() if root else None
            if root is None or target is None or not target.is_file():
                self.send_error(404)
                return
            if not target.is_relative_to(root.resolve()):
                self.send_error(403)
                return
            body = target.read_bytes()
            kind = "text/javascript" if target.suffix == ".js" else None
            self.send_response(200)
            self.send_header("Content-Type", kind or mimetypes.guess_type(target.name)[0] or "")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("browser-data")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), _handler({"static": STATIC, "pages": PAGES, "data": data})
    )
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Served(f"http://127.0.0.1:{server.server_address[1]}", data)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page(served: Served) -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    from reclaim.monitor.render import CHROMIUM

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        tab = browser.new_page()
        tab.set_default_timeout(120_000)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.goto(f"{served.url}/pages/hashing.html")
        tab.wait_for_selector("body[data-ready='1']", timeout=30_000)
        yield tab
        browser.close()
    assert not errors, f"the page reported errors: {errors}"


def _call(page: Any, name: str, *args: Any) -> Any:
    return page.evaluate(f"(args) => globalThis.harness.{name}(...args)", list(args))


def _expected(rgb: RGB) -> dict[str, Any]:
    result: dict[str, Any] = pdq_from_rgb(rgb, dihedral=True, grid=True).to_json()
    return result


def _differences(js: dict[str, Any], py: dict[str, Any]) -> list[str]:
    """Where two banked PDQ signals differ, in bits where they are hashes."""
    out = [f"{k}: {js.get(k)!r} != {py[k]!r}" for k in ("value", "quality") if js.get(k) != py[k]]
    for name, a, b in zip(DIHEDRAL_NAMES, js.get("dihedral", []), py["dihedral"], strict=False):
        if a != b:
            out.append(f"dihedral {name}: {hamming(a, b)} bits")
    for n, (a, b) in enumerate(zip(js["grid"]["cells"], py["grid"]["cells"], strict=True)):
        if a != b:
            out.append(f"cell {n}: {hamming(a['value'], b['value'])} bits, {a} vs {b}")
    if js["grid"].get("size") != py["grid"].get("size"):
        out.append(f"size {js['grid'].get('size')} != {py['grid'].get('size')}")
    ours = regions_from_json(js["grid"].get("anchored", []))
    theirs = regions_from_json(py["grid"].get("anchored", []))
    if len(ours) != len(theirs):
        out.append(f"{len(ours)} anchored regions, Python has {len(theirs)}")
    for n, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            out.append(f"region {n}: {hamming(a.value, b.value)} bits, {a} vs {b}")
    return out


def _check_same(page: Any, served: Served, rgb: RGB, name: str) -> dict[str, Any]:
    """The browser's banked signal of ``rgb`` is Python's, to the byte; Python's returned."""
    height, width = rgb.shape[:2]
    url = served.put(f"{name}.rgb", np.ascontiguousarray(rgb).tobytes())
    text = _call(page, "signalOf", url, width, height)
    expected = _expected(rgb)
    assert text == json.dumps(expected, separators=(",", ":")), _differences(
        json.loads(text), expected
    )
    return expected


def test_dct_matrix_is_pythons_bit_for_bit(page: Any) -> None:
    ours = np.array(_call(page, "dctMatrix"), dtype=np.float64)
    assert ours.tobytes() == DCT_MATRIX.astype(np.float64).ravel().tobytes()


SIZES = [
    (5, 5),
    (4, 9),
    (9, 4),
    (7, 13),
    (11, 10),
    (64, 64),
    (63, 65),
    (37, 100),
    (100, 37),
    (75, 76),
    (240, 320),
    (333, 517),
    (1, 300),
    (6, 2000),
    (2000, 6),
    (40, 1500),
    (1000, 1500),
]


@pytest.mark.parametrize(("height", "width"), SIZES, ids=[f"{h}x{w}" for h, w in SIZES])
def test_random_pixels_hash_as_in_python(
    page: Any, served: Served, height: int, width: int
) -> None:
    rng = np.random.default_rng(height * 10_007 + width)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    _check_same(page, served, noise, f"noise-{height}x{width}")
    if min(height, width) >= 2:  # smooth pictures find anchors that noise does not
        scene = render_scene(width, height, int(rng.integers(0, 1000)))
        _check_same(page, served, scene, f"scene-{height}x{width}")


@pytest.mark.parametrize(
    ("width", "height", "seed"), [(640, 480, 1), (1000, 1000, 2), (531, 947, 3)]
)
def test_real_photos_hash_as_in_python(
    page: Any, served: Served, tmp_path: Path, width: int, height: int, seed: int
) -> None:
    path = make_photo(tmp_path / f"photo-{seed}.jpg", width, height, seed)
    rgb = decode_image(path, sniff_file(path), MediaLimits()).rgb
    expected = _check_same(page, served, rgb, f"photo-{seed}")
    assert len(regions_from_json(expected["grid"]["anchored"])) >= 10  # the regions were compared


def test_reference_pictures_hash_as_in_python(page: Any, served: Served, reference: Path) -> None:
    for path in sorted((reference / "pdq").glob("*.jpg")):
        rgb = decode_image(path, sniff_file(path), MediaLimits()).rgb
        _check_same(page, served, rgb, path.stem)


@pytest.mark.parametrize(
    ("height", "width", "factor", "strip"),
    [(41, 37, 2, 8), (50, 61, 3, 9), (33, 33, 4, 32), (52, 49, 5, 255), (47, 50, 7, 14)],
)
def test_reduction_is_pillows(
    page: Any, served: Served, height: int, width: int, factor: int, strip: int
) -> None:
    """Very large pictures are reduced before hashing (media.image): the browser reduces
    them exactly as Pillow's Image.reduce does, strip by strip."""
    rgb = np.random.default_rng(factor).integers(0, 256, (height, width, 3), dtype=np.uint8)
    url = served.put(f"reduce-{factor}.rgb", rgb.tobytes())
    expected = np.asarray(Image.fromarray(rgb).reduce(factor), dtype=np.uint8)
    got = _call(page, "reduced", url, width, height, factor, strip)
    assert (got["height"], got["width"]) == expected.shape[:2]
    assert got["sha256"] == hashlib.sha256(expected.tobytes()).hexdigest()


def _choose(page: Any, paths: list[Path]) -> None:
    page.set_input_files("#files", [str(path) for path in paths])


def _by_index(messages: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {m["index"]: m for m in messages if m["type"] in ("result", "failure")}


def test_worker_hashes_files_decoded_by_the_browser(
    page: Any, reference: Path, tmp_path: Path, record_property: Any
) -> None:
    """The browser's own decoding, through files.js and the module worker: the reference
    JPEGs land within 8 bits of the reference hashes; PNGs (lossless: the same pixels on
    both sides) give exactly the signals the server computes, including one large enough
    to be reduced first; broken files fail clearly and the next file still hashes."""
    expected = {
        name: value
        for value, name in (
            line.split(",") for line in (reference / "pdq" / "expected.csv").read_text().split()
        )
    }
    jpegs = [reference / "pdq" / name for name in sorted(expected)]
    png = make_photo(tmp_path / "scene.png", 480, 360, 7)
    large = make_photo(tmp_path / "large.png", 2100, 2300, 8)  # reduced by 2 on both sides
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    heic = tmp_path / "photo.heic"
    heic.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 512)
    text = tmp_path / "notes.txt"
    text.write_bytes(b"not a picture\n")
    bomb = tmp_path / "bomb.png"  # a header claiming 200 million pixels
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + (20_000).to_bytes(4) + (10_000).to_bytes(4) + b"\0" * 64
    )
    files = [corrupt, jpegs[0], heic, png, text, bomb, large, *jpegs[1:]]
    _choose(page, files)
    messages = _call(page, "hashChosen", None)
    assert messages[-1] == {"type": "done", "id": "batch-1"}
    done = _by_index(messages)
    assert sorted(done) == list(range(len(files)))
    assert {m["stage"] for m in messages if m["type"] == "progress"} >= {"decode", "pdq", "md5"}

    failures = {files[i].name: m["failure"] for i, m in done.items() if m["type"] == "failure"}
    assert set(failures) == {"corrupt.jpg", "photo.heic", "notes.txt", "bomb.png"}
    assert failures["bomb.png"]["error"]["kind"] == "too_large"
    assert failures["corrupt.jpg"]["error"]["kind"] == "corrupt"
    assert failures["photo.heic"]["error"]["kind"] == "unsupported_type"
    assert "Most Compatible" in failures["photo.heic"]["error"]["message"]
    assert failures["notes.txt"]["error"]["kind"] == "unsupported_type"

    results = {files[i].name: m["result"] for i, m in done.items() if m["type"] == "result"}
    drift = {}
    for name, want in expected.items():
        pdq = results[name]["signals"][0]
        server = hash_file(HashRequest(str(reference / "pdq" / name))).to_json()["signals"][0]
        drift[name] = (hamming(pdq["value"], want), hamming(pdq["value"], server["value"]))
        assert pdq["quality"] == 100
    record_property("browser_decoded_pdq_distance_to_reference_and_to_pillow", drift)
    assert max(to_reference for to_reference, _ in drift.values()) <= 8, drift
    assert max(to_pillow for _, to_pillow in drift.values()) <= 8, drift
    for path in (png, large):
        server = hash_file(HashRequest(str(path))).to_json()
        assert results[path.name] == {**server, "path": path.name}, _differences(
            results[path.name]["signals"][0], server["signals"][0]
        )


RFC_1321 = {
    "": "d41d8cd98f00b204e9800998ecf8427e",
    "a": "0cc175b9c0f1b6a831c399e269772661",
    "abc": "900150983cd24fb0d6963f7d28e17f72",
    "message digest": "f96b697d7cb7938d525a2f31aaf161d0",
    "abcdefghijklmnopqrstuvwxyz": "c3fcd3d76192e4007dfb496cca67e13b",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789": (
        "d174ab98d277d9f5a5611c2c9f419d9f"
    ),
    "1234567890" * 8: "57edf4a22be3c955ac49da2e2107b67a",
}


def test_md5_gives_the_rfc_1321_test_vectors(page: Any) -> None:
    texts = [*RFC_1321, "x" * 55, "x" * 56, "x" * 63, "x" * 64, "x" * 65, "é" * 100]
    wanted = [hashlib.md5(t.encode()).hexdigest() for t in texts]
    assert wanted[: len(RFC_1321)] == list(RFC_1321.values())
    assert _call(page, "md5Texts", texts) == wanted


def test_md5_fed_in_uneven_pieces(page: Any, served: Served) -> None:
    payload = np.random.default_rng(5).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    url = served.put("pieces.bin", payload)
    cuts = [0, 1, 3, 63, 64, 65, 130, 1000, 1001, 5000, 9999]
    assert _call(page, "md5Pieces", url, cuts) == hashlib.md5(payload).hexdigest()


def test_incremental_sha256_matches_hashlib(page: Any, served: Served) -> None:
    """The SHA-256 that large files get (WebCrypto cannot stream): block boundaries, the
    padding edge cases, and a message fed in uneven pieces."""
    texts = ["", "abc", "x" * 55, "x" * 56, "x" * 63, "x" * 64, "x" * 65, "x" * 119, "é" * 100]
    wanted = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    assert _call(page, "sha256Texts", texts) == wanted
    payload = np.random.default_rng(6).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    url = served.put("sha-pieces.bin", payload)
    cuts = [0, 1, 3, 63, 64, 65, 130, 1000, 1001, 5000, 9999]
    assert _call(page, "sha256Pieces", url, cuts) == hashlib.sha256(payload).hexdigest()


def test_file_digests_match_hashlib(page: Any, tmp_path: Path) -> None:
    """MD5 read in slices (never the whole file), and SHA-256 -- WebCrypto up to 64 MiB,
    in slices beyond --, over files smaller and larger than the slice, one an exact number
    of slices long, and one past WebCrypto's share."""
    rng = np.random.default_rng(9)
    chunk = 64 * 1024
    sizes = {
        "empty.bin": 0,
        "small.bin": 1000,
        "exact.bin": 3 * chunk,
        "large.bin": 5 * chunk + 17,
        "huge.bin": 64 * 1024 * 1024 + 12_345,
    }
    paths = []
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        paths.append(path)
    _choose(page, paths)
    got = _call(page, "digestChosen", chunk)
    for path, digests in zip(paths, got, strict=True):
        payload = path.read_bytes()
        assert digests["name"] == path.name
        assert digests["md5"] == hashlib.md5(payload).hexdigest()
        assert digests["sha256"] == hashlib.sha256(payload).hexdigest()
        assert digests["slices"] == -(-len(payload) // chunk)


def test_orientation_and_transparency_as_the_server_sees_them(
    page: Any, tmp_path: Path, record_property: Any
) -> None:
    """The browser applies EXIF orientation and puts transparency over white, as the
    server's decoder does: a JPEG stored sideways with orientation 6 and a half-transparent
    PNG hash within decoder drift of the server's hashes (a missed turn is ~128 bits off)."""
    scene = render_scene(320, 240, 11)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    turned = tmp_path / "turned.jpg"
    Image.fromarray(scene).save(turned, quality=90, exif=exif)
    alpha = tmp_path / "alpha.png"
    rgba = np.dstack([scene, np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))])
    Image.fromarray(rgba, "RGBA").save(alpha)
    _choose(page, [turned, alpha])
    done = _by_index(_call(page, "hashChosen", None))
    drift = {}
    for index, path in enumerate((turned, alpha)):
        ours = done[index]["result"]["signals"][0]
        server = hash_file(HashRequest(str(path))).to_json()["signals"][0]
        drift[path.name] = hamming(ours["value"], server["value"])
        assert ours["grid"]["size"] == server["grid"]["size"]
    record_property("pdq_distance_to_server", drift)
    assert max(drift.values()) <= 8, drift


def test_worker_hashes_a_video_larger_than_a_slice(page: Any, tmp_path: Path) -> None:
    """A video gets SHA-256 and MD5 (its vPDQ is not computed in the browser), through the
    worker's default 4 MiB slices."""
    video = tmp_path / "clip.mp4"
    payload = (
        b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"
        + np.random.default_rng(3).integers(0, 256, 9 * 1024 * 1024 + 5, dtype=np.uint8).tobytes()
    )
    video.write_bytes(payload)
    _choose(page, [video])
    done = _by_index(_call(page, "hashChosen", None))
    result = done[0]["result"]
    assert (result["type"], result["format"]) == ("video", "mp4")
    assert result["signals"] == [
        {"type": "sha256", "value": hashlib.sha256(payload).hexdigest()},
        {"type": "md5", "value": hashlib.md5(payload).hexdigest()},
    ]


def test_hashing_time_is_measured(
    page: Any, served: Served, record_property: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reported, never asserted: PDQ alone and the whole banked signal of a 1000 x 1000
    picture in headless Chromium, best of three, beside the numba port's time."""
    import time

    rgb = render_scene(1000, 1000, 4)
    url = served.put("timing.rgb", rgb.tobytes())
    js = _call(page, "timings", url, 1000, 1000, 3)
    python = []
    for _ in range(3):
        start = time.perf_counter()
        _expected(rgb)
        python.append((time.perf_counter() - start) * 1000)
    line = (
        f"1000x1000 in Chromium: PDQ {js['pdq']:.0f} ms, banked signal (PDQ, 8 turns, grid, "
        f"anchored regions) {js['signal']:.0f} ms; numba port: {min(python):.0f} ms"
    )
    record_property("timings", line)
    with capsys.disabled():
        print(f"\n{line}")
