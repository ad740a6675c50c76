"""``reclaim hash`` and ``reclaim settings``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from reclaim.cli.app import (
    EveryFrameOption,
    FpsOption,
    JsonOption,
    WorkersOption,
    app,
    emit,
    failure_line,
    hash_options,
    hash_paths,
    load_settings,
)
from reclaim.config import Settings, env_var
from reclaim.signals.base import UnknownSignalType
from reclaim.signals.filehash import FileFailure, FileHashes, FileResult
from reclaim.signals.registry import parse_signal_names


@app.command("hash")
def hash_command(
    paths: Annotated[list[str], typer.Argument(help="Files or directories (walked recursively).")],
    as_json: JsonOption = False,
    signals: Annotated[
        str | None,
        typer.Option(help="Comma-separated signal types (pdq,vpdq,sha256,md5); default per kind."),
    ] = None,
    fps: FpsOption = None,
    every_frame: EveryFrameOption = False,
    keyframes: Annotated[
        bool, typer.Option("--keyframes", help="Hash keyframes only: fastest, approximate.")
    ] = False,
    draft: Annotated[
        int | None,
        typer.Option(help="JPEG fast path: decode at reduced scale, shorter side >= this."),
    ] = None,
    workers: WorkersOption = None,
) -> None:
    """Hash images and videos with PDQ, vPDQ, SHA-256 and MD5, as ThreatExchange does."""
    settings = load_settings()
    options = hash_options(
        settings, fps=fps, every_frame=every_frame, keyframes=keyframes, draft=draft
    )
    try:
        chosen = parse_signal_names(signals) if signals is not None else None
    except UnknownSignalType as exc:
        raise typer.BadParameter(str(exc), param_hint="--signals") from exc
    total, results = hash_paths(
        paths, options, settings=settings, workers=workers, signal_types=chosen
    )

    def render(result: FileResult) -> tuple[str, bool]:
        if isinstance(result, FileFailure):
            return failure_line(result, as_json)
        return (
            json.dumps(result.to_json(), ensure_ascii=False) if as_json else describe(result)
        ), True

    raise typer.Exit(1 if emit(results, total, render) else 0)


@app.command("settings")
def settings_command(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="A Markdown table of defaults.")
    ] = False,
) -> None:
    """Show every setting: its environment variable, current value and meaning."""
    settings = Settings()
    if markdown:
        sys.stdout.write("| variable | default | meaning |\n|---|---|---|\n")
    for name, field in Settings.model_fields.items():
        if markdown:
            default = "per-user data dir" if name == "data_dir" else f"`{field.default}`"
            sys.stdout.write(f"| `{env_var(name)}` | {default} | {field.description} |\n")
        else:
            sys.stdout.write(f"{env_var(name)}={getattr(settings, name)}\t# {field.description}\n")


def describe(result: FileHashes) -> str:
    """A readable, tab-separated line for one hashed file."""
    parts = [result.path, result.kind.value]
    for signal in result.signals:
        data = signal.to_json()
        if data["type"] == "vpdq":
            good = sum(1 for f in data["frames"] if f["quality"] >= 50)
            parts.append(f"vpdq={len(data['frames'])} frames ({good} of quality >= 50)")
        elif data["type"] == "pdq":
            parts.append(f"pdq={data['value']} quality={data['quality']}")
        else:
            parts.append(f"{data['type']}={data['value']}")
    parts.extend(f"warning: {w}" for w in result.warnings)
    return "\t".join(parts)
