"""Sweep reports: verdicts from scores, and hostile names (device names, banners, SSIDs
come from the network) shown inert in every format."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from reclaim.sweep.report import (
    Attachment,
    Finding,
    Reason,
    SweepReport,
    Verdict,
    now,
    verdict_for,
)

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _report() -> SweepReport:
    moment = now()
    return SweepReport(
        method="lan",
        target="10.9.0.0/24",
        started=moment,
        finished=moment,
        findings=[
            Finding("aa:bb", HOSTILE, 0.2, (Reason("banner", HOSTILE, 0.1),)),
            Finding(
                "cc:dd",
                "IP camera",
                0.93,
                (Reason("rtsp", "RTSP answers", 0.5),),
                details={"banner": HOSTILE},
                attachments=(Attachment("plot", "image/svg+xml", b"<svg/>", HOSTILE),),
            ),
        ],
        notes=[HOSTILE],
    )


def test_verdicts_follow_the_score() -> None:
    assert verdict_for(0.95) is Verdict.CAMERA_LIKELY
    assert verdict_for(0.7) is Verdict.CAMERA_LIKELY
    assert verdict_for(0.5) is Verdict.POSSIBLE
    assert verdict_for(0.1) is Verdict.UNLIKELY


def test_json_ranks_and_keeps_reasons() -> None:
    data = json.loads(json.dumps(_report().to_json()))
    assert [f["ident"] for f in data["findings"]] == ["cc:dd", "aa:bb"]
    assert data["findings"][0]["verdict"] == "camera_likely"
    assert data["findings"][0]["reasons"][0]["code"] == "rtsp"


def test_html_is_self_contained_and_inert() -> None:
    page = _report().to_html()
    tags: list[tuple[str, dict[str, str | None]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, dict(attrs)))

    Collect().feed(page)
    assert "script" not in {tag for tag, _ in tags}
    assert all(not name.startswith("on") for _, attrs in tags for name in attrs)
    sources = [attrs.get("src") or "" for tag, attrs in tags if tag == "img"]
    assert sources
    assert all(src.startswith("data:image/") for src in sources)
    assert "&lt;script&gt;" in page
    assert "1 likely camera(s) among 2" in _report().to_text()


def test_only_pictures_are_embedded() -> None:
    report = _report()
    report.attachments.append(Attachment("x", "text/html", b"<b>", ""))
    with pytest.raises(ValueError, match="cannot embed"):
        report.to_html()
