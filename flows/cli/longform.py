"""`emsync eval long-form`: long pieces for held-out films (v1, v2), beside real long music."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)

ROWS = (
    ("structureness, short (4-8 s)", "structureness_short", "real IQR"),
    ("structureness, middle (8-16 s)", "structureness_middle", "real IQR"),
    ("structureness, long (16-32 s)", "structureness_long", "real IQR"),
    ("bars restating/varying an earlier 4-bar unit", "restated_share", ">= 0.25"),
    ("  the same, bars shuffled (chance)", "restated_share_shuffled", ""),
    ("instrument changes / min (20 s windows)", "instrument_changes_per_min", "at boundaries"),
    ("  share of them at a planned boundary", "instrument_changes_at_boundaries", "1.0"),
    ("key changes / min (30 s windows)", "key_changes_per_min", "at boundaries"),
    ("  share of them at a planned boundary", "key_changes_at_boundaries", "1.0"),
    ("30 s windows in the piece's key", "windows_in_global_key", ""),
    ("30 s windows in their section's planned key", "windows_in_planned_key", ""),
    ("tempo range (max / min held tempo)", "tempo_range_ratio", ""),
    ("theme return: same - different feeling", "theme_return_difference", "> 0"),
    ("rho(arousal -> density), per minute", "rho_arousal_density", ">= 0.6"),
    ("rho(arousal -> velocity), per minute", "rho_arousal_velocity", ">= 0.6"),
)


def eval_long_form(
    minutes: str = typer.Option("6,8,10,12", help="held-out film lengths in minutes (5-20), comma-separated"),
    seeds: int = typer.Option(1, help="seeds per film"),
    models: str = typer.Option("v1,v2", help="which generators to run, comma-separated"),
    corpus: Path | None = typer.Option(None, help="music corpus v2 folder: its longest items joined, as real music"),
    real: bool = typer.Option(True, help="measure music21's long public-domain scores too"),
    out: Path = typer.Option(Path("out/long_form.json"), help="where to write the JSON results"),
    midi_dir: Path | None = typer.Option(None, help="keep the generated MIDI files here"),
    threads: int = typer.Option(1, help="torch CPU threads"),
    only: str = typer.Option("", help="run only these films (0-based positions in --minutes, comma-separated)"),
    film_seed: int = typer.Option(100, help="the first film's seed (the next film takes the next): another "
                                  "seed, other films"),
) -> None:
    """Long-form structure: held-out films' scene trajectories scored by v1 and v2, beside real music."""
    import torch

    from emsync_models.music.eval.long_form import (
        corpus_joined,
        evaluate_model,
        held_out_film,
        real_scores,
        summarise,
    )

    try:
        lengths = [float(m) for m in minutes.split(",") if m.strip()]
    except ValueError:
        raise typer.BadParameter(f"not a list of minutes: {minutes!r}", param_hint="--minutes") from None
    if not lengths or any(not 1 <= m <= 180 for m in lengths) or seeds < 1:
        raise typer.BadParameter("minutes must lie in 1..180 and seeds >= 1", param_hint="--minutes/--seeds")
    wanted = [m.strip() for m in models.split(",") if m.strip()]
    if any(m not in ("v1", "v2") for m in wanted):
        raise typer.BadParameter(f"choose from v1, v2; got {models!r}", param_hint="--models")
    if corpus is not None and not (corpus / "manifest.jsonl").is_file():
        raise typer.BadParameter(f"{corpus}: no manifest.jsonl (not a music corpus v2 folder)", param_hint="--corpus")
    torch.set_num_threads(threads)
    films = [held_out_film(m, film_seed + i) for i, m in enumerate(lengths)]
    if only.strip():
        try:
            films = [films[int(k)] for k in only.split(",") if k.strip()]
        except (ValueError, IndexError):
            raise typer.BadParameter(f"not positions in --minutes: {only!r}", param_hint="--only") from None
    result: dict = {"config": {"minutes": lengths, "seeds": seeds, "film_seed": film_seed,
                               "drive": "per-scene valence/arousal and cuts",
                               "films": [{"name": f.name, "acts": list(f.acts), "scenes": len(f.trajectory)}
                                         for f in films]}}
    from emsync_models.music.registry import load

    for name in wanted:
        gen = load(name)
        with console.status(name) as status:
            rows = evaluate_model(gen, films, range(seeds), midi_dir / name if midi_dir else None,
                                  progress=lambda m, n=name: status.update(f"{n}: {m}"))
        result[name] = {"version": gen.version, "pieces": rows, "summary": summarise(rows)}
    real_rows = []
    with console.status("real music") as status:
        if real:
            real_rows += real_scores(progress=status.update)
        if corpus is not None:
            real_rows += corpus_joined(corpus)
    result["real"] = {"pieces": real_rows, "summary": summarise(real_rows)}
    console.print(long_form_table(result, wanted))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out}")


def long_form_table(result: dict, models: list[str]) -> Table:
    table = Table(title="long form: generated (median [IQR]) beside real music")
    table.add_column("measure")
    sides = [*models, "real"]
    for side in sides:
        table.add_column(side)
    table.add_column("target")

    def cell(s: dict) -> str:
        return "-" if s["median"] is None else f"{s['median']:.3f} [{s['q1']:.3f}-{s['q3']:.3f}]"

    for label, key, target in ROWS:
        table.add_row(label, *(cell(result[s]["summary"][key]) for s in sides), target)
    return table
