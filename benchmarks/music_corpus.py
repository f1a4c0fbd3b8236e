"""Music corpus v2: the full build as a benchmark, and the corpus against real scores.

    python -m benchmarks.music_corpus build --out /work/corpus-full [--limit 20000] [--workers 2]
    python -m benchmarks.music_corpus compare --corpus /work/corpus-full [--pieces 400] [--scores 80]

`build` times the build (load average before and after), then prints and writes the corpus summary
(counts, shares, tokens) to benchmarks/results/music_corpus_build.json. `compare` measures the
descriptors of emsync_models.music.analysis.descriptors on a spread of corpus pieces (by source) and on real
scores from music21's corpus (the v1 training music, realised at its own tempo), and writes
benchmarks/results/music_corpus_compare.json. Targets: >= 20,000 pieces of 30-90 s, >= 25 M tokens,
>= 60 groove families, <= 30 min on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "results"


def build(args: argparse.Namespace) -> None:
    from emsync_models.music.corpus.layout import load_manifest
    from emsync_models.music.corpus.stats import plot_distributions, summarise
    from flows.data.music_corpus import build_corpus

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    cpu0 = os.times()
    summary = build_corpus(args.out, args.limit, workers=args.workers, seed=args.seed)
    cpu1 = os.times()
    seconds = time.perf_counter() - t0
    rows = load_manifest(args.out, status=None)
    stats = summarise(rows)
    cpu = (cpu1.user + cpu1.system + cpu1.children_user + cpu1.children_system) - (
        cpu0.user + cpu0.system + cpu0.children_user + cpu0.children_system)
    result = {"limit": args.limit, "workers": args.workers, "wall_s": round(seconds, 1), "cpu_s": round(cpu, 1),
              "skipped_already_built": summary.skipped, "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "cpus": os.cpu_count(), **stats}
    print(json.dumps(result, indent=1))
    plot_distributions(rows, args.plot)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "music_corpus_build.json").write_text(json.dumps(result, indent=1))


def _corpus_pieces(corpus: Path, n: int) -> dict[str, tuple[list, list[float]]]:
    import pretty_midi

    from emsync_models.music.corpus.layout import load_manifest, load_piece
    from emsync_models.music.notes import midi_notes

    rows = load_manifest(corpus)
    step = max(len(rows) // n, 1)
    groups: dict[str, tuple[list, list[float]]] = {}
    for row in rows[::step][:n]:
        piece = load_piece(corpus, row.id, row)
        notes = midi_notes(pretty_midi.PrettyMIDI(str(piece.midi_path)))
        for key in ("corpus v2 (all)", f"corpus v2: {row.source}" + (" + melody" if row.has_melody else "")):
            groups.setdefault(key, ([], []))
            groups[key][0].append(notes)
            groups[key][1].append(row.duration_s)
    return groups


def compare(args: argparse.Namespace) -> None:
    from emsync_models.music.analysis.metrics import describe_corpus
    from emsync_models.music.v1.corpus import corpus_paths, score_to_piece

    groups = _corpus_pieces(args.corpus, args.pieces)
    paths = corpus_paths(max_per_composer=max(args.scores // 5, 1))
    real, real_durations = [], []
    for path in paths:
        try:
            piece = score_to_piece(path)
        except Exception:  # noqa: BLE001 - an unparsable score is left out of the reference
            continue
        if piece is not None:
            real.append(list(piece.notes))
            real_durations.append(piece.duration_s)
    groups["real scores (music21, v1 corpus)"] = (real, real_durations)
    table = {name: describe_corpus(notes, durations) for name, (notes, durations) in groups.items()}
    cols = ("notes_per_s", "polyphony", "pitch_class_entropy_bits", "chord_changes_per_s", "pulse_share",
            "silence_share", "semitone_clash_share")
    print("| music | pieces | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for name, row in table.items():
        print(f"| {name} | {int(row['pieces'])} | " + " | ".join(f"{row.get(c, float('nan')):.3f}" for c in cols)
              + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "music_corpus_compare.json").write_text(json.dumps(table, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--limit", type=int, default=20000)
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--plot", type=Path, default=Path("emsync_models/music/corpus/datasheet/distributions.png"))
    c = sub.add_parser("compare")
    c.add_argument("--corpus", type=Path, required=True)
    c.add_argument("--pieces", type=int, default=400)
    c.add_argument("--scores", type=int, default=80)
    args = parser.parse_args()
    build(args) if args.cmd == "build" else compare(args)


if __name__ == "__main__":
    main()
