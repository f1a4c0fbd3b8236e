"""`emsync train music` and `emsync eval music`: argument handling, progress and tables only.

The science lives in emsync_models.music; these functions check inputs, call it and print results.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()

def _check_positive(name: str, value: float) -> None:
    if value <= 0:
        raise typer.BadParameter(f"{name} must be > 0, got {value}", param_hint=f"--{name.replace('_', '-')}")


def train_music(
    out: Path | None = typer.Option(None, help="checkpoint to write (a .pt; loss PNG and history beside it; "
                                    "default: the committed music-small.pt in the installed package)"),
    data_dir: Path = typer.Option(Path(".emsync/music_data"), help="where the tokenised corpus is cached"),
    steps: int = typer.Option(1200, help="optimizer steps"),
    batch_size: int = typer.Option(8, help="sequences per step"),
    context: int | None = typer.Option(None, help="music tokens of context (default: the config's)"),
    config: str = typer.Option("tiny", help="model shape: tiny (the committed default), small, reference (37M)"),
    n_layer: int | None = typer.Option(None, help="override the config's layer count"),
    d_model: int | None = typer.Option(None, help="override the config's width"),
    conditioning: str = typer.Option("concat", help="how V/A enter: concat or prepend"),
    lr: float = typer.Option(1e-3, help="peak learning rate"),
    max_minutes: float | None = typer.Option(None, help="stop (and checkpoint) after this many minutes"),
    threads: int = typer.Option(2, help="torch CPU threads"),
    seed: int = typer.Option(0, help="random seed"),
    max_per_composer: int = typer.Option(300, help="music21 corpus files per composer (0 = all)"),
    lpd5: Path | None = typer.Option(None, help="Lakh Pianoroll LPD-5 folder (.npz files): train on the paper's data"),
    labels: Path | None = typer.Option(None, help="CSV of id,valence,energy (Spotify, 0..1) for --lpd5"),
    init_from: Path | None = typer.Option(None, help="continue from this checkpoint's weights (new schedule)"),
    warmup: int = typer.Option(100, help="learning-rate warmup steps"),
    start_prob: float = typer.Option(0.0, help="share of windows starting at a piece's beginning (0..1)"),
    mode_swap_prob: float = typer.Option(0.0, help="share of windows moved to their parallel mode (0..1)"),
    opening_share: float = typer.Option(0.0, help="share of steps on short opening windows (0..1)"),
    reinit_valence: bool = typer.Option(False, help="with --init-from: re-draw the valence input MLP"),
    key_normalise: bool = typer.Option(False, help="train every window in C major / C minor"),
) -> None:
    """Train the music transformer (music21 corpus with proxy labels, or LPD-5 with real labels)."""
    from emsync_models.music import registry
    from emsync_models.music.v1.dataset import chord_marker_rate
    from emsync_models.music.v1.model import NAMED_CONFIGS
    from emsync_models.music.v1.prepare import prepare_music21_corpus
    from emsync_models.music.v1.train import TrainConfig, train

    out = registry.spec("v1").checkpoint if out is None else out
    ctx = 1 if context is None else context
    for name, value in (("steps", steps), ("batch_size", batch_size), ("context", ctx), ("lr", lr)):
        _check_positive(name, value)
    if config not in NAMED_CONFIGS:
        choices = sorted(NAMED_CONFIGS)
        raise typer.BadParameter(f"unknown config {config!r}; choose from {choices}", param_hint="--config")
    if conditioning not in ("concat", "prepend"):
        raise typer.BadParameter(f"must be concat or prepend, got {conditioning!r}", param_hint="--conditioning")
    if (lpd5 is None) != (labels is None):
        raise typer.BadParameter("--lpd5 and --labels go together", param_hint="--lpd5/--labels")
    if out.suffix != ".pt":
        raise typer.BadParameter(f"{out}: the checkpoint must be a .pt file", param_hint="--out")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if lpd5 is not None and labels is not None:
        from emsync_models.music.v1.lpd5 import prepare_lpd5_corpus

        for path in (lpd5, labels):
            if not path.exists():
                raise typer.BadParameter(f"{path} does not exist", param_hint="--lpd5/--labels")
        try:
            corpus = prepare_lpd5_corpus(lpd5, labels, data_dir / "lpd5_corpus.npz")
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    else:
        corpus = prepare_music21_corpus(data_dir / "music21_corpus.npz", max_per_composer=max_per_composer or None)
    console.print(
        f"corpus: {len(corpus.names)} pieces ({int(corpus.is_val.sum())} validation), {corpus.n_tokens} tokens, "
        f"{chord_marker_rate(corpus):.2f} chord changes/s"
    )
    overrides: dict = {"conditioning": conditioning}
    if context:
        overrides["block_size"] = context
    if n_layer:
        overrides["n_layer"] = n_layer
    if d_model:  # keep the family's proportions: ff 4x, V/A a quarter of the width
        overrides.update(d_model=d_model, d_ff=4 * d_model, d_condition=d_model // 4)
    model_config = dataclasses.replace(NAMED_CONFIGS[config], **overrides)
    if init_from is not None and not init_from.is_file():
        raise typer.BadParameter(f"{init_from} does not exist", param_hint="--init-from")
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, max_minutes=max_minutes, threads=threads, seed=seed,
                      warmup=warmup, init_from=str(init_from) if init_from else None, start_prob=start_prob,
                      mode_swap_prob=mode_swap_prob, opening_share=opening_share,
                      reinit_valence=reinit_valence, key_normalise=key_normalise)
    history = train(corpus, model_config, cfg, out, log=console.print)
    console.print(
        f"done: val loss {history['val_loss'][-1]:.3f} vs unigram {history['unigram_val']:.3f}; checkpoint {out}"
    )
    console.print(json.dumps({"val_loss": history["val_loss"][-1], "unigram_val": history["unigram_val"]}))


def _alignment_table(result: dict) -> Table:
    table = Table(title="(a) boundary alignment (+-250 ms)")
    for col in ("boundary input", "measured on", "boundaries", "hit share", "mean |offset| s"):
        table.add_column(col)
    for mode, label in (
        ("with_boundaries", "on"),
        ("neutralised", "neutralised (ablation)"),
        ("with_boundaries_no_snap", "on, no snapping"),
        ("neutralised_no_snap", "neutralised, no snapping"),
    ):
        for kind, name in (("chord_markers", "CHORD markers"), ("analysed_chord_changes", "analysed harmony")):
            a = result["alignment"][mode][kind]
            table.add_row(label, name, str(a["boundaries"]), f"{a['hit_share']:.2f}", f"{a['mean_abs_offset_s']:.2f}")
    return table


def _control_table(result: dict) -> Table:
    c = result["control"]
    table = Table(title=f"(b) emotion control: Spearman rho over {c['points']} pieces")
    table.add_column("requested")
    table.add_column("measured")
    table.add_column("rho")
    table.add_row("valence", "mode score (major - minor)", f"{c['valence_vs_mode_rho']:.2f}")
    table.add_row("arousal", "note density", f"{c['arousal_vs_density_rho']:.2f}")
    table.add_row("valence", "note density (leak)", f"{c['valence_vs_density_rho']:.2f}")
    table.add_row("arousal", "mode score (leak)", f"{c['arousal_vs_mode_rho']:.2f}")
    return table


def _stats_table(result: dict) -> Table:
    stats = result["corpus_statistics"]
    table = Table(title="(c) corpus statistics (mean over pieces)")
    table.add_column("statistic")
    sides = [s for s in ("generated", "validation") if s in stats]
    for side in sides:
        table.add_column(side)
    for key in ("pieces", "pitch_class_entropy_bits", "polyphony", "note_density_per_s", "ioi_mean_s", "ioi_median_s"):
        table.add_row(key, *(f"{stats[s].get(key, float('nan')):.3g}" for s in sides))
    return table


def _sensitivity_table(result: dict) -> Table:
    table = Table(title="does the model read valence? held-out NLL (nats/token)")
    for col in ("windows", "own label", "opposite label", "no label"):
        table.add_column(col)
    for name, row in (result["valence_sensitivity_nll"] or {}).items():
        table.add_row(name, *(f"{row[k]:.4f}" for k in ("own_label", "opposite_label", "no_label")))
    return table


def eval_music(
    checkpoint: Path | None = typer.Option(None, help="checkpoint to evaluate (default: the committed one)"),
    out: Path = typer.Option(Path("out/music_eval.json"), help="where to write the JSON results"),
    data_dir: Path = typer.Option(Path(".emsync/music_data"), help="cached corpus (for validation statistics)"),
    alignment_pieces: int = typer.Option(12, help="pieces for the boundary-alignment test"),
    seeds: int = typer.Option(4, help="seeds per (V, A) grid point"),
    grid: int = typer.Option(3, help="grid points per axis (grid x grid >= 9 points)"),
    duration: float = typer.Option(20.0, help="seconds per control piece"),
    threads: int = typer.Option(2, help="torch CPU threads"),
    guidance: float | None = typer.Option(None, help="override the checkpoint's V/A guidance scale (1 = off)"),
) -> None:
    """Evaluate boundary alignment, emotion control and corpus statistics; print tables, write JSON."""
    import numpy as np
    import torch

    from emsync_models.errors import InputError
    from emsync_models.music.eval.v1 import EvalConfig, evaluate_music
    from emsync_models.music.v1.dataset import TokenCorpus
    from emsync_models.music.v1.generator import load_generator

    for name, value in (("alignment_pieces", alignment_pieces), ("seeds", seeds), ("duration", duration)):
        _check_positive(name, value)
    if grid < 3:
        raise typer.BadParameter(f"needs >= 3 points per axis (>= 9 grid points), got {grid}", param_hint="--grid")
    torch.set_num_threads(threads)
    try:
        gen = load_generator(checkpoint)
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--checkpoint") from None
    if guidance is not None:
        _check_positive("guidance", guidance)
        gen.guidance = guidance
    corpus_path = data_dir / "music21_corpus.npz"
    corpus = TokenCorpus.load(corpus_path) if corpus_path.exists() else None
    if corpus is None:
        console.print(f"[yellow]no cached corpus at {corpus_path}: validation statistics skipped[/]")
    cfg = EvalConfig(
        alignment_pieces=alignment_pieces,
        grid=tuple(float(x) for x in np.round(np.linspace(-0.8, 0.8, grid), 3)),
        seeds=tuple(range(seeds)),
        control_duration_s=duration,
    )
    with console.status("evaluating") as status:
        result = evaluate_music(gen, corpus, cfg, progress=lambda msg: status.update(msg))
    console.print(f"model {result['model']['name']} {result['model']['version']}")
    for table in (_alignment_table(result), _control_table(result), _stats_table(result), _sensitivity_table(result)):
        console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out} ({result['eval_seconds']:.0f} s)")
