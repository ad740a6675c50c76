"""The ``reclaim`` Typer application and what its commands share: settings, hashing
options, and writing one result line per input with a progress bar for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from reclaim.config import Settings
from reclaim.logs import configure_logging
from reclaim.media.errors import MediaError
from reclaim.media.frames import Sampling
from reclaim.media.limits import MediaLimits
from reclaim.media.walk import iter_files
from reclaim.signals.base import SignalType
from reclaim.signals.batch import hash_many
from reclaim.signals.filehash import FileFailure, FileResult, HashRequest
from reclaim.signals.source import HashOptions

T = TypeVar("T")

app = typer.Typer(
    name="reclaim",
    help="Find, document and remove non-consensual intimate images; sweep rooms for cameras.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

FpsOption = Annotated[
    float | None, typer.Option(help="Video frames sampled per second (default from settings).")
]
EveryFrameOption = Annotated[bool, typer.Option("--every-frame", help="Hash every video frame.")]
WorkersOption = Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per input line.")]


@app.callback()
def _main() -> None:
    """Reclaim: every command reads its settings from RECLAIM_* environment variables."""


def load_settings() -> Settings:
    """The settings in force, with logging configured from them."""
    settings = Settings()
    configure_logging(settings)
    return settings


def hash_options(
    settings: Settings,
    *,
    fps: float | None,
    every_frame: bool,
    keyframes: bool = False,
    draft: int | None = None,
    query_regions: bool = False,
) -> HashOptions:
    """Hashing options from the command line over the settings; usage errors exit 2."""
    if every_frame and fps is not None:
        raise typer.BadParameter("choose either --fps or --every-frame", param_hint="--fps")
    if fps is not None and not 0 < fps <= 240:
        raise typer.BadParameter("must be above 0 and at most 240", param_hint="--fps")
    rate = None if every_frame else (fps if fps is not None else settings.video_sample_fps)
    return HashOptions(
        sampling=Sampling(fps=rate, keyframes_only=keyframes),
        draft_min_side=settings.jpeg_draft_min_side if draft is None else max(0, draft),
        limits=MediaLimits.from_settings(settings),
        query_regions=query_regions,
    )


def hash_paths(
    paths: list[str],
    options: HashOptions,
    *,
    settings: Settings,
    workers: int | None,
    signal_types: tuple[type[SignalType], ...] | None = None,
) -> tuple[int, Iterator[FileResult]]:
    """How many inputs the paths expand to, and their hash results in order."""
    if workers is not None and workers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--workers")
    inputs: list[HashRequest | MediaError] = [
        item if isinstance(item, MediaError) else HashRequest(item, options, signal_types)
        for item in iter_files(paths)
    ]
    return len(inputs), hash_many(inputs, workers=workers or settings.worker_count)


def emit(items: Iterable[T], total: int, render: Callable[[T], tuple[str, bool]]) -> int:
    """Write ``render(item)``'s line for each item; return how many were failures."""
    failed = 0
    progress = _progress(total)
    for item in items:
        line, ok = render(item)
        failed += not ok
        if progress is not None:
            progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            progress.advance(progress.task_ids[0])
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    if progress is not None:
        progress.stop()
    return failed


def failure_line(result: FileFailure, as_json: bool) -> tuple[str, bool]:
    """The line for a file that could not be hashed (every command writes it the same way)."""
    if as_json:
        return json.dumps(result.to_json(), ensure_ascii=False), False
    return f"{result.path}\terror\t{result.error.kind}: {result.error.reason}", False


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr; the caller raises the returned exit."""
    sys.stderr.write(f"reclaim: {message}\n")
    return typer.Exit(code)


def _progress(total: int) -> Progress | None:
    """A progress bar on stderr, only when a person is watching it."""
    if not sys.stderr.isatty() or total < 2:
        return None
    progress = Progress(console=Console(stderr=True), transient=True)
    progress.add_task("working", total=total)
    progress.start()
    return progress
