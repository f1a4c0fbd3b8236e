"""`emsync train emotion DATASET`: train the fusion classifier on a folder-per-class dataset.

Only argument handling, progress display and error reporting live here; the work is
`emsync_models.emotion.training.train_emotion_classifier`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from emsync_models.errors import InputError


def train_emotion(
    dataset: Annotated[Path, typer.Argument(help="folder with one sub-folder of videos per class")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where fusion.pt, metrics.json, confusion.png go")]
    = Path("emotion-run"),
    epochs: Annotated[int, typer.Option(min=1, help="training epochs")] = 80,
    seed: Annotated[int, typer.Option(help="split and initialisation seed")] = 0,
    text: Annotated[bool, typer.Option("--text/--no-text", help="include the on-screen text extractor")] = True,
    cache_dir: Annotated[Path | None, typer.Option(help="feature cache folder (default: settings)")] = None,
) -> None:
    """Train the emotion fusion model on frozen features and report held-out metrics."""
    console = Console(stderr=True)
    try:
        from emsync_models.emotion.api import load_analyzer
        from emsync_models.emotion.dataset import scan_dataset
        from emsync_models.emotion.training import TrainConfig, train_emotion_classifier

        scan_dataset(dataset)  # fail on a bad layout before loading any model

        if cache_dir is None:
            from flows.settings import get_settings

            cache_dir = get_settings().store.cache_dir / "emotion-features"
        analyzer = load_analyzer(cache_dir=cache_dir, text=text)
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeElapsedColumn(), console=console) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, fraction: float) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=1.0)
                bar.update(tasks[stage], completed=fraction)

            result = train_emotion_classifier(dataset, out, analyzer, TrainConfig(epochs=epochs, seed=seed),
                                              progress)
    except InputError as exc:
        # typer.echo, not rich: rich wraps long paths over several lines.
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    out_console = Console()
    out_console.print(f"held-out accuracy {result.test_accuracy:.3f} (validation {result.val_accuracy:.3f}, "
                      f"split {result.counts})")
    for label, f1 in result.f1.items():
        out_console.print(f"  F1 {label:<12} {f1:.3f}")
    out_console.print(f"checkpoint {result.checkpoint}\nconfusion matrix {result.confusion_png}\n"
                      f"use it: EMSYNC_EMOTION_CHECKPOINT={result.checkpoint}")
