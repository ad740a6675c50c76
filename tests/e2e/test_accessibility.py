"""Every portal page passes axe-core's WCAG 2.0/2.1/2.2 A and AA rules, in Korean and in
English, at desktop and phone widths (axe-core ships with axe-playwright-python)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from reclaim.signals.filehash import HashRequest, hash_file

from .conftest import Server

PAGES = ("/", "/register", "/signin", "/recover", "/staff", "/case", "/case/withdraw")
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _axe() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text("utf-8")


def violations(page: Any, script: str) -> list[str]:
    """axe-core's findings on the page shown (the script injected first)."""
    page.add_script_tag(content=script)
    found: list[str] = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.length + ' ' + v.help))",
        RULES,
    )
    return found


def _registered(server: Server) -> dict[str, str]:
    result = hash_file(HashRequest(str(server.media / "photo-2.jpg"))).to_json()
    files = json.dumps([{"kind": result["type"], "signals": result["signals"]}])
    with httpx.Client(base_url=server.url) as client:
        token = re.search(r'name="token" value="([^"]+)"', client.get("/register").text)
        assert token
        page = client.post("/register", data={"token": token.group(1), "files": files}).text
    return {
        key: re.search(rf'id="{key}">([^<]+)<', page).group(1)  # type: ignore[union-attr]
        for key in ("case-number", "passphrase")
    }


@pytest.mark.parametrize(
    ("language", "viewport"),
    [("ko", (1280, 900)), ("en", (1280, 900)), ("ko", (390, 844))],
    ids=["ko-desktop", "en-desktop", "ko-phone"],
)
def test_every_page_passes_wcag_aa(
    server: Server, browser: Any, language: str, viewport: tuple[int, int]
) -> None:
    secrets = _registered(server)
    # The audit script is injected: only this context lets it past the page's CSP.
    context = browser.new_context(
        bypass_csp=True, viewport={"width": viewport[0], "height": viewport[1]}
    )
    page = context.new_page()
    page.goto(f"{server.url}/lang/{language}?next=/signin")
    page.fill("#number", secrets["case-number"])
    page.fill("#passphrase", secrets["passphrase"])
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/case")
    script = _axe()
    # The audit can fail: a picture without a text alternative is caught.
    page.set_content("<html lang='en'><body><main><img src='x.png'></main></body></html>")
    page.add_script_tag(content=script)
    caught = page.evaluate("axe.run(document).then(r => r.violations.map(v => v.id))")
    assert "image-alt" in caught
    problems: dict[str, list[str]] = {}
    for path in PAGES:
        page.goto(server.url + path)
        found = violations(page, script)
        if found:
            problems[path] = found
    context.close()
    assert problems == {}
