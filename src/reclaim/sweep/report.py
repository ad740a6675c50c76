"""What every sweep produces: findings with a score, a verdict and the reasons for it,
written as text, JSON, or one self-contained HTML file (inline styles, pictures and plots
as data, no script, nothing fetched) that opens offline on an inspector's phone.

A finding's ``score`` is in [0, 1]; its verdict follows from it with the same thresholds
for every method (:data:`LIKELY`, :data:`POSSIBLE`), so that reports read alike. Reasons
carry a stable ``code`` (for tests and JSON readers), a sentence for people, and the
weight they added to the score.
"""

from __future__ import annotations

import base64
import enum
import html
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

LIKELY = 0.7
"""A score at or above this is reported as a likely camera."""
POSSIBLE = 0.4
"""A score at or above this (and below LIKELY) is worth a look."""


class Verdict(enum.StrEnum):
    CAMERA_LIKELY = "camera_likely"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"


def verdict_for(score: float) -> Verdict:
    if score >= LIKELY:
        return Verdict.CAMERA_LIKELY
    if score >= POSSIBLE:
        return Verdict.POSSIBLE
    return Verdict.UNLIKELY


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    """Stable identifier, e.g. ``rtsp_describe_video``, ``uplink_follows_stimulus``."""
    text: str
    """For people: what was seen."""
    weight: float = 0.0
    """What it added to (or, negative, took from) the score."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A picture or plot shown with a finding (embedded in the HTML report)."""

    name: str
    media_type: str
    """``image/png``, ``image/jpeg`` or ``image/svg+xml``."""
    data: bytes
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    ident: str
    """What the finding is about: a MAC or IP address, a transmitter, a glint track id."""
    label: str
    """A short name for people: a vendor and model, "device 3", "glint at 0:12"."""
    score: float
    reasons: tuple[Reason, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    """Method-specific facts (ports, traffic numbers, frame positions), JSON-serialisable."""
    attachments: tuple[Attachment, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return verdict_for(self.score)


@dataclass
class SweepReport:
    method: str
    """``lan``, ``wifi`` or ``optical``."""
    target: str
    """What was swept: a network, a capture file, a video file."""
    started: datetime
    finished: datetime
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was done and what could not be (limits hit, probes refused, frames skipped)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    """Report-wide pictures and plots (e.g. traffic over the stimulus timeline)."""

    def ranked(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (-f.score, f.ident))

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "target": self.target,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat(),
            "parameters": self.parameters,
            "notes": list(self.notes),
            "findings": [
                {
                    "ident": f.ident,
                    "label": f.label,
                    "score": round(f.score, 4),
                    "verdict": f.verdict.value,
                    "reasons": [asdict(r) for r in f.reasons],
                    "details": f.details,
                    "attachments": [a.name for a in f.attachments],
                }
                for f in self.ranked()
            ],
        }

    def to_text(self) -> str:
        lines = [
            f"Reclaim sweep ({self.method}) of {self.target}",
            f"{self.started.isoformat(timespec='seconds')} to "
            f"{self.finished.isoformat(timespec='seconds')}",
            "",
        ]
        ranked = self.ranked()
        likely = [f for f in ranked if f.verdict is Verdict.CAMERA_LIKELY]
        lines.append(f"{len(likely)} likely camera(s) among {len(ranked)} finding(s).")
        for finding in ranked:
            lines.append("")
            lines.append(
                f"[{finding.verdict.value}] {finding.label} ({finding.ident}) "
                f"score {finding.score:.2f}"
            )
            for reason in finding.reasons:
                lines.append(f"  - {reason.text} ({reason.weight:+.2f})")
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """One file, readable offline: no script, no external resource."""
        e = html.escape
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "img-src data:; style-src 'unsafe-inline'\">",
            f"<title>Reclaim sweep: {e(self.target)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>Sweep ({e(self.method)}): {e(self.target)}</h1>",
            f"<p>{e(self.started.isoformat(timespec='seconds'))} – "
            f"{e(self.finished.isoformat(timespec='seconds'))}</p>",
        ]
        for attachment in self.attachments:
            parts.append(_figure(attachment))
        for finding in self.ranked():
            parts.append(f"<section class='finding {e(finding.verdict.value)}'>")
            parts.append(
                f"<h2>{e(finding.label)} <small>{e(finding.ident)}</small></h2>"
                f"<p class='verdict'>{e(_VERDICT_TEXT[finding.verdict])} · "
                f"score {finding.score:.2f}</p><ul>"
            )
            parts += [
                f"<li>{e(r.text)} <small>({r.weight:+.2f})</small></li>" for r in finding.reasons
            ]
            parts.append("</ul>")
            if finding.details:
                parts.append(
                    "<details><summary>Details</summary><pre>"
                    f"{e(json.dumps(finding.details, indent=1, ensure_ascii=False, default=str))}"
                    "</pre></details>"
                )
            parts += [_figure(a) for a in finding.attachments]
            parts.append("</section>")
        if self.notes:
            parts.append("<h2>Notes</h2><ul>")
            parts += [f"<li>{e(n)}</li>" for n in self.notes]
            parts.append("</ul>")
        parts.append("</body></html>")
        return "\n".join(parts)


_VERDICT_TEXT = {
    Verdict.CAMERA_LIKELY: "likely a camera",
    Verdict.POSSIBLE: "possibly a camera: look closer",
    Verdict.UNLIKELY: "unlikely to be a camera",
}
_ALLOWED_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
_CSS = (
    "body{font-family:system-ui,'Noto Sans CJK KR',sans-serif;max-width:48rem;margin:auto;"
    "padding:1rem;line-height:1.5;color:#1b1b1b}"
    ".finding{border:1px solid #ccc;border-radius:.4rem;padding:.5rem 1rem;margin:1rem 0}"
    ".camera_likely{border-left:6px solid #8a1c1c}.possible{border-left:6px solid #b35c00}"
    ".unlikely{border-left:6px solid #767676}img{max-width:100%;height:auto}"
    "pre{white-space:pre-wrap;word-break:break-all;font-size:.8rem}small{color:#4a4a4a}"
)


def _figure(attachment: Attachment) -> str:
    if attachment.media_type not in _ALLOWED_TYPES:
        raise ValueError(f"cannot embed {attachment.media_type}")
    data = base64.b64encode(attachment.data).decode()
    caption = html.escape(attachment.caption or attachment.name)
    # SVG goes in as an <img> too: a data: image cannot run script or fetch anything.
    return (
        f"<figure><img src='data:{attachment.media_type};base64,{data}' alt='{caption}'>"
        f"<figcaption>{caption}</figcaption></figure>"
    )


def now() -> datetime:
    return datetime.now(UTC)
