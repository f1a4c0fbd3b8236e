"""Style and ensemble controls of music v2, measured: python -m benchmarks.styles [--out PATH]

On the eval's request (compare.py: a fixed-length piece with the eval's irregular cuts for the seed, one
valence/arousal cell), for three styles x two palettes x several seeds:
- palette: the share of notes whose program lies in the palette (drums only where it has them);
- style: the eval's descriptors per piece (note density, drum share of notes, mean pitch of the pitched
  notes) and, per palette, the spread between the styles' means beside the seed-to-seed spread;
- defaults: with `--tokens-only` it writes the tokens of default requests (no controls) for the seeds,
  importing nothing this change added, so the same command run on the code before the change (its
  checkout on PYTHONPATH) gives the tokens to compare: `--baseline FILE` compares them here.

With `--report REPORT.json` (the JSON report of `emsync soundtrack VIDEO --json`), the request is that
video's instead: its length, its detected cuts and its per-scene valence/arousal, as the job builds it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

DURATION_S = 10.0  # short pieces: the shared CPU writes a few tokens a second under load
CELL = (0.0, 0.0)  # the eval grid's middle cell: no style is favoured by an extreme valence/arousal
STYLES = ("ballad", "rock", "latin")
PALETTES = ("piano,strings", "guitar,bass,piano,drums")
SEEDS = (0, 1, 2)
DEFAULT_SEEDS = (0, 1)


def request_for(seed: int, video: dict | None = None, **controls: object) -> object:
    """The eval's request for `seed`, or (`video`: a soundtrack report) the request the job made for it."""
    from emsync_models.music.eval.v1 import random_cuts
    from emsync_models.music.request import GenerationRequest

    if video is not None:
        from flows.soundtrack import emotion_trajectory

        return GenerationRequest(float(video["input"]["duration_s"]), tuple(float(c) for c in video["cuts_s"]),
                                 emotion_trajectory(video["emotion"]), seed=seed, **controls)  # type: ignore[arg-type]
    cuts = random_cuts(np.random.default_rng([seed, 77]), DURATION_S)  # the eval's cuts for this seed
    return GenerationRequest(DURATION_S, tuple(cuts), ((0.0, *CELL),), seed=seed, **controls)  # type: ignore[arg-type]


def default_tokens(gen: object, seeds: tuple[int, ...]) -> dict[str, list[int]]:
    return {str(s): [int(t) for t in gen.generate(request_for(s)).tokens] for s in seeds}  # type: ignore[attr-defined]


def piece_row(music: object, palette: object, duration_s: float = DURATION_S) -> dict:
    midi = music.midi  # type: ignore[attr-defined]
    notes = [(inst.program, inst.is_drum, n.pitch) for inst in midi.instruments for n in inst.notes]
    inside = sum(palette.allows(p, d) for p, d, _ in notes)  # type: ignore[attr-defined]
    pitched = [pitch for _, d, pitch in notes if not d]
    drums = sum(d for _, d, _ in notes)
    return {
        "notes": len(notes),
        "in_palette": inside / max(len(notes), 1),
        "density": len(notes) / duration_s,
        "drum_share": drums / max(len(notes), 1),
        "register": float(np.mean(pitched)) if pitched else None,
        "programs": sorted({-1 if d else int(p) for p, d, _ in notes}),
        "style": music.style,  # type: ignore[attr-defined]
    }


def spread(rows: list[dict], key: str) -> dict:
    """Per style: mean and seed-to-seed sd; between styles: the range of the means vs the mean sd."""
    by_style: dict[str, list[float]] = {}
    for r in rows:
        if r[key] is not None:
            by_style.setdefault(r["style_asked"], []).append(float(r[key]))
    means = {s: statistics.fmean(v) for s, v in by_style.items()}
    sds = {s: statistics.stdev(v) if len(v) > 1 else 0.0 for s, v in by_style.items()}
    between = max(means.values()) - min(means.values()) if means else 0.0
    within = statistics.fmean(sds.values()) if sds else 0.0
    return {"mean": {s: round(m, 3) for s, m in means.items()}, "seed_sd": {s: round(v, 3) for s, v in sds.items()},
            "between_styles_range": round(between, 3), "mean_seed_sd": round(within, 3),
            "differs_beyond_seed_spread": bool(between > within)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/styles.json"))
    parser.add_argument("--tokens-only", action="store_true", help="write default requests' tokens and stop")
    parser.add_argument("--baseline", type=Path, help="tokens --tokens-only wrote on the code before the change")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--palettes", nargs="+", default=list(PALETTES), help="palettes to run (default: both)")
    parser.add_argument("--from-log", type=Path, help="summarise the rows a cut-short run printed instead")
    parser.add_argument("--report", type=Path, help="a soundtrack's JSON report: its video's request instead")
    args = parser.parse_args()
    video = json.loads(args.report.read_text()) if args.report is not None else None
    duration_s = float(video["input"]["duration_s"]) if video is not None else DURATION_S

    from emsync_models.music.v2.generator import load_generator_v2

    gen = load_generator_v2()
    started = time.perf_counter()
    if args.tokens_only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"duration_s": DURATION_S, "cell": CELL,
                                        "tokens": default_tokens(gen, DEFAULT_SEEDS)}))
        return

    from emsync_models.music.controls import parse_palette

    same: dict[str, bool] = {}
    if args.baseline is not None:  # first: a run cut short still answers it
        before = json.loads(args.baseline.read_text())["tokens"]
        now = default_tokens(gen, tuple(int(s) for s in before))
        same = {s: now[s] == before[s] for s in before}
        print(json.dumps({"defaults_same_tokens": same}), flush=True)

    # --from-log: the rows one or more cut-short runs printed (their logs concatenated)
    rows = [json.loads(line) for line in args.from_log.read_text().splitlines() if line.startswith('{"notes"')] \
        if args.from_log is not None else []
    # seeds outermost: a run cut short still holds whole seeds of every style x palette
    for seed in [] if args.from_log is not None else args.seeds:
        for palette_spec in args.palettes:
            palette = parse_palette(palette_spec)
            for style in STYLES:
                music = gen.generate(request_for(seed, video, style=style, instruments=palette.programs,
                                                 drums=palette.drums))
                row = piece_row(music, palette, duration_s)
                row.update(palette=palette_spec, style_asked=style, seed=seed)
                rows.append(row)
                print(json.dumps(row), flush=True)
    result: dict = {
        "command": "python -m benchmarks.styles" + (f" --report {args.report}" if video is not None else ""),
        "request": {"duration_s": DURATION_S, "valence_arousal": CELL, "cuts": "the eval's random_cuts per seed"}
        if video is None else {"video": video["input"].get("path"), "sha256": video["input"].get("sha256"),
                               "duration_s": duration_s, "cuts_s": video["cuts_s"],
                               "scenes": [{k: s[k] for k in ("start_s", "valence", "arousal")}
                                          for s in video["emotion"]["scenes"]]},
        "styles": STYLES, "palettes": PALETTES, "seeds": sorted({r["seed"] for r in rows}),
        "pieces": len(rows),
        "notes_in_palette_share": round(sum(r["in_palette"] * r["notes"] for r in rows)
                                        / max(sum(r["notes"] for r in rows), 1), 6),
        "pieces_fully_in_palette": sum(r["in_palette"] == 1.0 for r in rows),
        "descriptors": {p: {k: spread([r for r in rows if r["palette"] == p], k)
                            for k in ("density", "drum_share", "register")}
                        for p in PALETTES if any(r["palette"] == p for r in rows)},
        "defaults_same_tokens": same,
        "rows": rows,
    }
    result["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
