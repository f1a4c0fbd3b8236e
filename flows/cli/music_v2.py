"""`emsync train music-v2`: tokenise a music corpus v2 folder and train (or resume) the v2 generator."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()

def train_music_v2(
    corpus: Path = typer.Option(..., help="music corpus v2 folder (manifest.jsonl, midi/, labels/)"),
    out: Path | None = typer.Option(None, help="inference checkpoint to write (.pt, bf16; default: the committed "
                                    "music-v2.pt in the installed package)"),
    state: Path = typer.Option(Path(".emsync/music_v2/train_state.pt"), help="resumable training state"),
    steps: int = typer.Option(20000, help="total optimizer steps (a resumed run continues towards it)"),
    batch_size: int = typer.Option(8, help="sequences per step"),
    context: int = typer.Option(512, help="tokens of context"),
    n_layer: int = typer.Option(4, help="transformer layers"),
    d_model: int = typer.Option(256, help="width (ff 4x, 4 heads)"),
    lr: float = typer.Option(1e-3, help="peak learning rate"),
    threads: int = typer.Option(1, help="torch CPU threads"),
    device: str = typer.Option("cpu", help="cpu, or cuda to train in bf16 on a GPU"),
    workers: int = typer.Option(1, help="processes that tokenise the corpus (first run only; cached)"),
    max_minutes: float | None = typer.Option(None, help="stop (and checkpoint) after this many minutes"),
    fresh: bool = typer.Option(False, help="ignore an existing training state"),
) -> None:
    """Train the beat-grid generator on corpus v2 (resumes from --state unless --fresh)."""
    from emsync_models.music import registry
    from emsync_models.music.v2.data import TokenCorpusV2, build_token_corpus
    from emsync_models.music.v2.model import MusicV2Config
    from emsync_models.music.v2.remi import BeatTokenizer
    from emsync_models.music.v2.train import TrainV2Config, export_checkpoint, train_v2

    out = registry.spec("v2").checkpoint if out is None else out

    for name, value in (("steps", steps), ("batch_size", batch_size), ("context", context), ("lr", lr)):
        if value <= 0:
            raise typer.BadParameter(f"must be > 0, got {value}", param_hint=f"--{name.replace('_', '-')}")
    if not (corpus / "manifest.jsonl").is_file():
        raise typer.BadParameter(f"{corpus}: no manifest.jsonl (not a music corpus v2 folder)", param_hint="--corpus")
    if device not in ("cpu", "cuda"):
        raise typer.BadParameter(f"choose cpu or cuda, got {device!r}", param_hint="--device")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise typer.BadParameter("no CUDA GPU is visible to torch here", param_hint="--device")
    if out.suffix != ".pt":
        raise typer.BadParameter(f"{out}: the checkpoint must be a .pt file", param_hint="--out")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    tok = BeatTokenizer()
    cache = state.parent / f"tokens-{corpus.resolve().name}.npz"
    if cache.is_file():
        data = TokenCorpusV2.load(cache)
    else:
        data = build_token_corpus(corpus, tok, progress=console.print, workers=max(workers, 1))
        data.save(cache)
    console.print(f"corpus: {len(data.ids)} pieces ({len(data.piece_ids('val'))} val), {len(data.tokens)} tokens")
    model_config = MusicV2Config(vocab_size=len(tok), block_size=context, n_layer=n_layer, n_head=4,
                                 d_model=d_model, d_ff=4 * d_model)
    cfg = TrainV2Config(steps=steps, batch_size=batch_size, lr=lr, threads=threads, max_minutes=max_minutes,
                        device=device)
    extra = {"style_means": data.style_means(), "label_p05_p95": data.label_range(), "corpus": str(corpus),
             "tokenizer": repr(tok), "guidance": 1.5}
    history = train_v2(data, model_config, cfg, state, resume=not fresh, log=console.print, extra=extra)
    export_checkpoint(state, out, extra)
    console.print(json.dumps({"steps": history["step"][-1] if history["step"] else 0,
                              "val_loss": history["val_loss"][-1] if history["val_loss"] else None, "out": str(out)}))


def eval_music_v2(
    corpus: Path = typer.Option(..., help="music corpus v2 folder (the corpus's own numbers come from its test split)"),
    checkpoint: Path | None = typer.Option(None, help="v2 checkpoint (default: the committed music-v2.pt)"),
    v1_checkpoint: Path | None = typer.Option(None, help="v1 checkpoint (default: the committed music-small.pt)"),
    out: Path = typer.Option(Path("out/music_v1_v2.json"), help="where to write the JSON results"),
    seeds: int = typer.Option(4, help="seeds per (V, A) cell (>= 4 for the issue's protocol)"),
    duration: float = typer.Option(30.0, help="seconds per piece"),
    renders: int = typer.Option(9, help="raw renders measured per model (0 = skip audio measures)"),
    models: str = typer.Option("v1,v2", help="which generators to run, comma-separated"),
    threads: int = typer.Option(1, help="torch CPU threads"),
    corpus_pieces: int = typer.Option(60, help="held-out corpus pieces measured"),
) -> None:
    """v1 and v2 side by side on a 3x3 valence/arousal grid with irregular cuts, and the corpus beside them."""
    import torch

    from emsync_models.errors import InputError
    from emsync_models.music import registry
    from emsync_models.music.eval.compare import CompareConfig, evaluate_corpus, evaluate_generator
    from flows.settings import get_settings

    if seeds < 1 or duration <= 0:
        raise typer.BadParameter("seeds must be >= 1 and duration > 0", param_hint="--seeds/--duration")
    if not (corpus / "manifest.jsonl").is_file():
        raise typer.BadParameter(f"{corpus}: no manifest.jsonl (not a music corpus v2 folder)", param_hint="--corpus")
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    if not wanted or any(m not in registry.MODELS for m in wanted):
        raise typer.BadParameter(f"choose from {', '.join(registry.MODELS)}; got {models!r}", param_hint="--models")
    torch.set_num_threads(threads)
    soundfont = get_settings().music.resolved_soundfont() if renders else None
    cfg = CompareConfig(seeds=tuple(range(seeds)), duration_s=duration, renders_per_model=renders,
                        corpus_pieces=corpus_pieces)
    result: dict = {"config": {"seeds": seeds, "duration_s": duration, "grid": list(cfg.grid),
                               "soundfont": str(soundfont) if soundfont else None}}
    try:
        for name in wanted:
            gen = registry.load(name, v1_checkpoint if name == "v1" else checkpoint)
            with console.status(f"{name}") as status:
                result[name] = evaluate_generator(gen, cfg, soundfont,
                                                  progress=lambda m, n=name: status.update(f"{n}: {m}"))
            result[name]["version"] = gen.version
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--checkpoint") from None
    with console.status("corpus"):
        result["corpus"] = evaluate_corpus(corpus, cfg, soundfont)
    console.print(comparison_table(result, wanted))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    from emsync_models.music.eval.pulse_plot import pulse_map_figure

    picture = pulse_map_figure(result, out.with_suffix(".pulse.png"))
    console.print(f"wrote {out} and {picture}")


ROWS = (
    ("semitone-clash share", "clash", "{:.3f}"),
    ("silence share (mean)", "silence", "{:.3f}"),
    ("onsets on the beat grid", "on_grid", "{:.3f}"),
    ("pulse clarity, whole piece (median)", "pulse_clarity_median", "{:.3f}"),
    ("pulse clarity, 8 s windows (median)", "local_pulse_clarity_median", "{:.3f}"),
    ("  the same on its own beat (diagnostic)", "own_beat_local_pulse_clarity_median", "{:.3f}"),
    ("  whole piece on its own beat (diagnostic)", "own_beat_pulse_clarity_median", "{:.3f}"),
    ("  reference: a click on each beat of its tempo map", "map_pulse_clarity_median", "{:.3f}"),
    ("  the same click in 8 s windows", "map_local_pulse_clarity_median", "{:.3f}"),
    ("harmony change at cuts", "cut_hit", "{:.2f}"),
    ("harmony change at random times", "random_hit", "{:.2f}"),
    ("median hit-time error s", "hit_error_median_s", "{:.3f}"),
    ("cuts on a downbeat of the MIDI's bars", "downbeat_hits", "{:.2f}"),
    ("largest tempo step in a piece (median)", "tempo_step_median", "{:.3f}"),
    ("analysed chord changes / s", "changes_per_s", "{:.2f}"),
    ("valence -> mode rho", "valence_mode_rho", "{:.2f}"),
    ("arousal -> density rho", "arousal_density_rho", "{:.2f}"),
    ("note density / s", "density", "{:.2f}"),
    ("bass presence", "bass", "{:.2f}"),
    ("velocity s.d.", "velocity_sd", "{:.1f}"),
    ("hits: velocity over other downbeats (median)", "hit_velocity_gain_median", "{:+.1f}"),
    ("hits with an accent cymbal", "hit_accent_instrument_share", "{:.2f}"),
    ("bars in 4-bar phrases of 4/4 (mean / worst piece)", "phrase_share_mean", "{:.2f}"),
    ("  worst piece", "phrase_share_min", "{:.2f}"),
    ("tempo min BPM", "tempo_min", "{:.1f}"),
    ("tempo max BPM", "tempo_max", "{:.1f}"),
    ("largest tempo step in any piece", "tempo_step_max", "{:.3f}"),
    ("notes outside their GM instrument's range", "notes_out_of_range_total", "{}"),
    ("pieces whose bass part is on a bass instrument", "bass_fits_share", "{:.2f}"),
    ("pieces whose final chord rings on a sustaining instrument", "final_chord_fits_share", "{:.2f}"),
    ("opening silence s (max)", "opening_silence_max_s", "{:.2f}"),
)


def comparison_table(result: dict, models: list[str]) -> Table:
    table = Table(title="music v1 vs v2 (measured on the written notes) and the corpus")
    table.add_column("measure")
    sides = models + ["corpus"]
    for side in sides:
        table.add_column(side)
    for label, key, fmt in ROWS:
        table.add_row(label, *(fmt.format(result[s].get(key, float("nan"))) for s in sides))
    for label, key, fmt in (("raw render peak (max)", "peak_max", "{:.2f}"), ("clipped samples (raw)",
                            "clipped_samples_total", "{}"), ("loudness LUFS (raw)", "lufs", "{:.1f}"),
                            ("energy < 200 Hz", "low_energy_share", "{:.2f}"),
                            ("delivered loudness LUFS (mean)", "delivered_lufs", "{:.2f}"),
                            ("delivered: largest miss of the target, LU", "delivered_lufs_miss_max", "{:.2f}"),
                            ("delivered true peak dBTP (max)", "delivered_true_peak_db_max", "{:.2f}"),
                            ("delivered clipped samples", "delivered_clipped_total", "{}")):
        table.add_row(label, *(fmt.format(result[s].get("render", {}).get(key, float("nan"))) for s in sides))
    c = result["corpus"]
    for side in models:
        cells = result[side].get("cells", {})
        inside = sum(c["density_p05"] <= x["density"] <= c["density_p95"] for x in cells.values())
        table.add_row(f"cells in corpus density 5-95 % ({side})", *[f"{inside}/{len(cells)}" if s == side else ""
                                                                      for s in sides])
        worst = max((x["silence_max"] for x in cells.values()), default=float("nan"))
        table.add_row(f"worst-cell silence ({side})", *[f"{worst:.2f}" if s == side else "" for s in sides])
    return table
