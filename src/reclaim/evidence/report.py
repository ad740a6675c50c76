"""The evidence report: a PDF in Korean and English for the police or a lawyer.

It says, for one case: what was found where and when, how it matched the survivor's
registered hashes, how each capture was sealed and where it sits in the custody log, the
chain of custody, and how to verify everything. Screenshots are blurred unless the export
asks otherwise (and always for a case concerning a minor). Rendered by WeasyPrint with
Debian's Noto CJK fonts; every string is escaped.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Any

FONTS = "'Noto Sans CJK KR', 'Noto Sans KR', 'Noto Sans CJK', sans-serif"

STYLE = f"""
@page {{
  size: A4; margin: 18mm 16mm;
  @bottom-right {{ content: counter(page) " / " counter(pages); font-size: 8pt; }}
}}
body {{ font-family: {FONTS}; font-size: 9.5pt; line-height: 1.45; color: #111; }}
h1 {{ font-size: 17pt; margin: 0 0 2mm 0; }}
h2 {{ font-size: 12.5pt; margin: 7mm 0 2mm 0; border-bottom: 0.4pt solid #888; }}
h3 {{ font-size: 10.5pt; margin: 5mm 0 1mm 0; }}
.en {{ color: #444; }}
table {{ border-collapse: collapse; width: 100%; margin: 1mm 0 3mm 0; }}
td, th {{ border: 0.3pt solid #aaa; padding: 1mm 1.5mm; vertical-align: top; text-align: left; }}
th {{ width: 32%; background: #f2f2f2; font-weight: normal; }}
code {{ font-family: 'Noto Sans Mono CJK KR', monospace; font-size: 7.5pt; word-break: break-all; }}
img {{ max-width: 100%; max-height: 120mm; border: 0.3pt solid #aaa; }}
.note {{ font-size: 8.5pt; color: #333; }}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _row(korean: str, english: str, value: object, code: bool = False) -> str:
    shown = f"<code>{_e(value)}</code>" if code else _e(value)
    return (
        f"<tr><th>{_e(korean)}<br><span class='en'>{_e(english)}</span></th><td>{shown}</td></tr>"
    )


def render_report(
    manifest: dict[str, Any],
    packages: list[dict[str, Any]],
    custody_events: list[dict[str, Any]],
) -> bytes:
    """The PDF for an export. ``packages`` holds, per package, its manifest entry plus the
    capture's facts and the screenshot to show (PNG bytes, already blurred or not)."""
    from PIL import ImageFile
    from weasyprint import HTML

    ImageFile.LOAD_TRUNCATED_IMAGES = False  # WeasyPrint turns it on for the whole process

    parts = [
        "<h1>디지털 성범죄 증거 보고서</h1>",
        "<div class='en'>Evidence report: non-consensual intimate imagery</div>",
        "<table>",
        _row("사건 번호", "Case number", manifest.get("case")),
        _row("기관", "Organisation", manifest.get("organisation")),
        _row("작성 일시", "Exported", manifest.get("exported")),
        _row("작성자", "Exported by", manifest.get("exported_by")),
        _row("근거", "Basis", _basis(manifest.get("basis", {}))),
        _row("증거 건수", "Captures", len(packages)),
        "</table>",
        "<p class='note'>이 보고서에는 피해자의 이미지를 싣지 않습니다. 화면 캡처는 흐리게 "
        "처리되어 있습니다. / This report shows none of the survivor's images; screenshots "
        "are blurred.</p>",
    ]
    for number, item in enumerate(packages, start=1):
        facts = item.get("facts", {})
        sighting = item.get("sighting") or {}
        match = sighting.get("match") or {}
        parts += [
            f"<h2>증거 {number} <span class='en'>Capture {number}</span></h2>",
            "<table>",
            _row("발견한 페이지", "Page", item.get("url")),
            _row("최종 주소", "Final address", facts.get("final_url") or item.get("final_url")),
            _row(
                "캡처 일시 (UTC)",
                "Captured (UTC)",
                facts.get("captured_at") or item.get("captured"),
            ),
            _row("서버 IP 주소", "Server address", facts.get("server_address")),
            _row(
                "리디렉션",
                "Redirects",
                ", ".join(str(r.get("url")) for r in facts.get("redirects", [])) or "-",
            ),
            _row("TLS", "TLS", _tls(facts.get("tls"))),
            _row(
                "브라우저", "Browser", f"{facts.get('user_agent', '')} {facts.get('viewport', '')}"
            ),
            _row("일치한 파일 주소", "Matched file", sighting.get("media_url") or "-"),
            _row("파일 SHA-256", "File SHA-256", sighting.get("media_sha256") or "-", code=True),
            _row("일치 근거", "Match evidence", _match(match)),
            _row("증거 패키지 SHA-256", "Package SHA-256", item.get("sha256"), code=True),
            _row("봉인 (서명 키)", "Seal (signing key)", item.get("key_id"), code=True),
            _row("보관 기록 위치", "Custody log entry", item.get("log_entry", {}).get("position")),
            "</table>",
        ]
        screenshot = item.get("screenshot")
        if screenshot:
            encoded = base64.b64encode(screenshot).decode()
            parts.append(f"<img src='data:image/png;base64,{encoded}' alt=''>")
    parts += [
        "<h2>보관 연속성 <span class='en'>Chain of custody</span></h2>",
        "<table><tr><th>일시 / Time (UTC)</th><td>사건 / Event — 담당 / Actor</td></tr>",
        *[_custody_row(event) for event in custody_events],
        "</table>",
        "<h2>검증 방법 <span class='en'>How to verify</span></h2>",
        "<p>이 폴더만으로 검증할 수 있습니다: <code>reclaim evidence verify 폴더</code>. 각 증거 "
        "패키지(WACZ)의 모든 파일에 SHA-256이 기록되어 있고 기관의 Ed25519 키로 봉인되어 "
        "있으며, 봉인 기록은 보관 기록(머클 트리, RFC 6962)에 포함되어 서명된 트리 헤드까지 "
        "증명됩니다.</p>",
        "<p class='en'>The folder verifies by itself: <code>reclaim evidence verify FOLDER</code>. "
        "Every file of each package (WACZ) has its SHA-256 recorded and is sealed with the "
        "organisation's Ed25519 key; each seal is an entry of the custody log (a Merkle tree, "
        "RFC 6962), proven up to a signed tree head.</p>",
        "<table>",
        _row("트리 헤드 크기", "Tree head size", manifest.get("tree_head", {}).get("size")),
        _row(
            "트리 헤드 루트", "Tree head root", manifest.get("tree_head", {}).get("root"), code=True
        ),
        *[
            _row("공개 키", f"Public key {k}", v, code=True)
            for k, v in manifest.get("public_keys", {}).items()
        ],
        "</table>",
    ]
    document = (
        f"<!doctype html><html lang='ko'><head><meta charset='utf-8'><style>{STYLE}</style>"
        f"</head><body>{''.join(parts)}</body></html>"
    )
    pdf: bytes = HTML(string=document).write_pdf(
        metadata={"title": f"Evidence report {manifest.get('case')}", "created": _now()}
    )
    return pdf


_EVENTS = {
    "captured": "캡처 / captured",
    "sealed": "봉인 / sealed",
    "exported": "반출 / exported",
    "viewed": "열람 / viewed",
    "annotated": "주석 / annotated",
    "held": "법적 보존 / legal hold",
    "released": "보존 해제 / hold released",
    "deleted": "삭제 (요청) / deleted on request",
    "notice": "삭제 요청 / takedown notice",
}


def _custody_row(event: dict[str, Any]) -> str:
    name = _EVENTS.get(str(event.get("event")), str(event.get("event")))
    return (
        f"<tr><th>{_e(event.get('at'))}</th><td>{_e(name)} — {_e(event.get('actor'))} "
        f"<span class='en'>(#{_e(event.get('position'))})</span></td></tr>"
    )


def _basis(basis: dict[str, Any]) -> str:
    if basis.get("consent"):
        return f"피해자 동의 / the survivor's consent ({basis.get('recorded')}, {basis.get('by')})"
    return f"법적 근거 / legal basis: {basis.get('legal_basis')} ({basis.get('by')})"


def _tls(tls: dict[str, Any] | None) -> str:
    if not tls:
        return "-"
    check = tls.get("check") or {}
    certificate = check.get("certificate") or {}
    browser = tls.get("browser") or {}
    if check.get("trusted") is True:
        verdict = "신뢰됨 / trusted"
    elif certificate:
        verdict = f"신뢰되지 않음 / not trusted: {check.get('problem')}"
    else:
        verdict = f"확인 못 함 / not checked: {check.get('problem') or '-'}"
    shown = {
        "": verdict,
        "protocol": check.get("protocol") or browser.get("protocol"),
        "subject": certificate.get("subject") or browser.get("subjectName"),
        "issuer": certificate.get("issuer") or browser.get("issuer"),
        "valid": " – ".join(
            str(v) for v in (certificate.get("not_before"), certificate.get("not_after")) if v
        ),
        "SHA-256": certificate.get("sha256"),
    }
    return ", ".join(f"{k}: {v}" if k else str(v) for k, v in shown.items() if v)


def _match(match: dict[str, Any]) -> str:
    if not match:
        return "-"
    shown = [f"{k}={v}" for k, v in match.items() if k not in ("item", "item_id")]
    return ", ".join(shown)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
