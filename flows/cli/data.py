"""`emsync data music build`: argument handling and the progress bar; the build lives in flows.data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def build_music(
    out: Path = typer.Option(Path("music-corpus-v2"), "--out", help="corpus folder (created; a re-run resumes it)"),
    limit: int = typer.Option(20000, help="pieces to build"),
    workers: int = typer.Option(2, help="worker processes"),
    seed: int = typer.Option(0, help="seed: the same seed and limit build the same corpus"),
    families: str = typer.Option("", help="comma-separated MMA groove families to use (default: all)"),
) -> None:
    """Build the v2 music corpus: MMA grooves x real progressions, with exact chord/grid/tempo labels."""
    from flows.cli.common import fail
    from flows.data.music_corpus import BuildError, build_corpus

    columns = (TextColumn("[bold]{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        try:
            chosen = [f.strip() for f in families.split(",") if f.strip()] or None
            summary = build_corpus(out, limit, workers=workers, seed=seed, progress=progress, families=chosen)
        except BuildError as exc:
            raise fail(str(exc), 2) from None
    reasons = ", ".join(f"{k} x{v}" for k, v in summary.failures.most_common(5))
    console.print(
        f"{out}: {summary.ok} ok, {summary.failed} failed ({summary.skipped} already built) in "
        f"{summary.seconds:.0f} s" + (f"; failures this run: {reasons}" if reasons else "")
    )
