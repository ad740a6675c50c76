"""The ``reclaim`` command. It parses arguments and prints; the work lives in the packages."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from reclaim.config import Settings, env_var
from reclaim.logs import configure_logging
from reclaim.media.errors import MediaError
from reclaim.media.frames import Sampling
from reclaim.media.limits import MediaLimits
from reclaim.media.walk import iter_files
from reclaim.signals.base import UnknownSignalType
from reclaim.signals.batch import hash_many
from reclaim.signals.filehash import FileHashes, FileResult, HashRequest
from reclaim.signals.registry import parse_signal_names
from reclaim.signals.source import HashOptions

app = typer.Typer(
    name="reclaim",
    help="Find, document and remove non-consensual intimate images; sweep rooms for cameras.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


demo_app = typer.Typer(
    help="The local demo: generated, freely licensed media.", no_args_is_help=True
)
app.add_typer(demo_app, name="demo")


@app.callback()
def _main() -> None:
    """Reclaim: every command reads its settings from RECLAIM_* environment variables."""


@app.command("hash")
def hash_command(
    paths: Annotated[list[str], typer.Argument(help="Files or directories (walked recursively).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per input file.")
    ] = False,
    signals: Annotated[
        str | None,
        typer.Option(help="Comma-separated signal types (pdq,vpdq,sha256,md5); default per kind."),
    ] = None,
    fps: Annotated[
        float | None, typer.Option(help="Video frames sampled per second (default from settings).")
    ] = None,
    every_frame: Annotated[
        bool, typer.Option("--every-frame", help="Hash every video frame.")
    ] = False,
    keyframes: Annotated[
        bool, typer.Option("--keyframes", help="Hash keyframes only: fastest, approximate.")
    ] = False,
    draft: Annotated[
        int | None,
        typer.Option(help="JPEG fast path: decode at reduced scale, shorter side >= this."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: all cores).")
    ] = None,
) -> None:
    """Hash images and videos with PDQ, vPDQ, SHA-256 and MD5, as ThreatExchange does."""
    settings = Settings()
    configure_logging(settings)
    if every_frame and fps is not None:
        raise typer.BadParameter("choose either --fps or --every-frame", param_hint="--fps")
    if fps is not None and not 0 < fps <= 240:
        raise typer.BadParameter("must be above 0 and at most 240", param_hint="--fps")
    if workers is not None and workers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--workers")
    try:
        chosen = parse_signal_names(signals) if signals is not None else None
    except UnknownSignalType as exc:
        raise typer.BadParameter(str(exc), param_hint="--signals") from exc
    rate = None if every_frame else (fps if fps is not None else settings.video_sample_fps)
    options = HashOptions(
        sampling=Sampling(fps=rate, keyframes_only=keyframes),
        draft_min_side=settings.jpeg_draft_min_side if draft is None else max(0, draft),
        limits=MediaLimits.from_settings(settings),
    )
    inputs: list[HashRequest | MediaError] = [
        item if isinstance(item, MediaError) else HashRequest(item, options, chosen)
        for item in iter_files(paths)
    ]
    results = hash_many(inputs, workers=workers or settings.worker_count)
    failed = _emit(results, len(inputs), as_json)
    raise typer.Exit(1 if failed else 0)


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


@demo_app.command("media")
def demo_media_command(
    folder: Annotated[
        Path | None, typer.Argument(help="Where to write (default: DATA_DIR/demo-media).")
    ] = None,
) -> None:
    """Write a folder of generated demo photos and a video; print its path."""
    from reclaim.demo.media import make_demo_folder

    target = folder or Settings().data_dir / "demo-media"
    sys.stdout.write(f"{make_demo_folder(target)}\n")


def _emit(results: Iterator[FileResult], total: int, as_json: bool) -> int:
    failed = 0
    progress = _progress(total)
    for result in results:
        failed += not isinstance(result, FileHashes)
        line = json.dumps(result.to_json(), ensure_ascii=False) if as_json else _describe(result)
        if progress is not None:
            progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            progress.advance(progress.task_ids[0])
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    if progress is not None:
        progress.stop()
    return failed


def _progress(total: int) -> Progress | None:
    """A progress bar on stderr, only when a person is watching it."""
    if not sys.stderr.isatty() or total < 2:
        return None
    progress = Progress(console=Console(stderr=True), transient=True)
    progress.add_task("hashing", total=total)
    progress.start()
    return progress


def _describe(result: FileResult) -> str:
    if not isinstance(result, FileHashes):
        return f"{result.path}\terror\t{result.error.kind}: {result.error.reason}"
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


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
