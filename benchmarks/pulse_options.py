"""What would lift v2's pulse clarity to the corpus's median: estimates for the owner's decision (issue #12).

    python benchmarks/pulse_options.py [--corpus DIR] [--seeds 4] [--top-p P] [--json out.json]

Generates the eval's grid (3x3 valence/arousal, `--seeds` seeds, 30 s, the eval's irregular cuts) with
the committed v2 checkpoint, then measures the written notes' pulse clarity (whole piece and 8 s
windows, as `emsync eval music-v2` does) as written and under changes made *after* generation:

- `held beat`: the notes re-timed onto one constant tempo (the map's base); the beat before each hit is
  held for whatever the cut needs (0.5-1.5 beats) and onsets inside it are dropped. This is what a
  hit-point map with no tempo steps would sound like; it is an estimate, not a decoder.
- `+ eighths`: a hi-hat on every eighth note of the piece's own beat under the notes.
- `+ style groove` (with `--corpus`): the most common drum bar of the piece's style family in the
  corpus's 4/4 train pieces, looped on the piece's bars, replacing the model's drums.

Nothing here changes the generator: these are the numbers behind the choice between retraining,
writing a rule-based drum part, and changing the measure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emsync_models.music.notes import Note  # noqa: E402

if TYPE_CHECKING:
    import pretty_midi

    from emsync_models.music.v2.generator import GeneratedMusicV2

HAT, EIGHTH = 42, 0.5
DRUMS = 0  # vocab.family_of: the LPD-5 family of drum tracks
Pattern = list[tuple[int, int]]  # (position in 1/12 beats from the downbeat, GM drum key)


def style_grooves(corpus: Path, limit: int = 3000) -> dict[str, Pattern]:
    """Per style family, the most common drum bar (4/4, train split) of the first `limit` pieces."""
    import symusic

    from emsync_models.music.corpus.layout import load_manifest
    from emsync_models.music.v2.data import style_family
    from emsync_models.music.v2.model import STYLE_FAMILIES

    counts: dict[str, Counter[frozenset[tuple[int, int]]]] = defaultdict(Counter)
    rows = [r for r in load_manifest(corpus) if r.beats_per_bar == 4 and r.split == "train"][:limit]
    with_drums: Counter[str] = Counter()
    pieces: Counter[str] = Counter()
    for row in rows:
        family = STYLE_FAMILIES[style_family(row.groove_family)]
        score = symusic.Score(str(corpus / "midi" / f"{row.id}.mid"))
        bars: dict[int, set[tuple[int, int]]] = defaultdict(set)
        for track in score.tracks:
            if track.is_drum:
                for note in track.notes:
                    beat = note.time / score.ticks_per_quarter
                    bars[int(beat // 4)].add((round((beat % 4) * 12) % 48, note.pitch))
        pieces[family] += 1
        with_drums[family] += bool(bars)
        counts[family].update(frozenset(b) for b in bars.values())
    # a family whose pieces mostly have no drums (chorales, 'other') gets none
    return {f: sorted(c.most_common(1)[0][0]) for f, c in counts.items() if c and with_drums[f] * 2 >= pieces[f]}


def _beat_axis(midi: pretty_midi.PrettyMIDI) -> tuple[np.ndarray, np.ndarray]:
    beats = midi.get_beats()
    return beats, np.interp(midi.get_downbeats(), beats, np.arange(len(beats), dtype=np.float64))


def held_timing(tempo_map: dict) -> Callable[[float], tuple[float, bool]]:
    """beat -> (seconds, inside a held beat) for a constant tempo whose last beat before each hit is held."""
    p = 60.0 / float(tempo_map["base_bpm"])
    anchors = [(0.0, 0.0)] + [(float(h["beat"]), float(h["time_s"])) for h in tempo_map["hits"]]

    def at(beat: float) -> tuple[float, bool]:
        for (b0, t0), (b1, t1) in zip(anchors, anchors[1:], strict=False):
            if b0 <= beat < b1:
                last_start = t0 + (b1 - 1 - b0) * p
                if beat < b1 - 1:
                    return t0 + (beat - b0) * p, False
                return last_start + (beat - (b1 - 1)) * (t1 - last_start), beat > b1 - 1 + 1e-6
        b0, t0 = anchors[-1]
        return t0 + (beat - b0) * p, False

    return at


def drum_notes(pattern: Pattern | None, downbeats: np.ndarray, end_beat: float) -> list[tuple[float, int]]:
    """(beat, key): `pattern` looped on each bar (cut at a short bar's end), or eighths if None."""
    if pattern is None:
        return [(b, HAT) for b in np.arange(0.0, end_beat, EIGHTH)]
    bounds = list(downbeats) + [end_beat]
    out = []
    for d0, d1 in zip(bounds, bounds[1:], strict=False):
        bar = d0
        while bar < d1:  # planned bars, then 4/4 bars up to the next downbeat
            out += [(bar + pos / 12, key) for pos, key in pattern if bar + pos / 12 < min(d1, bar + 4)]
            bar += 4
    return out


def measure(notes: Sequence[Note]) -> tuple[float, float]:
    from emsync_models.music.analysis.measures import local_pulse_clarity, pulse_clarity

    return pulse_clarity(notes), local_pulse_clarity(notes)


def variants(music: GeneratedMusicV2, duration_s: float, style: str, grooves: dict[str, Pattern] | None) -> dict:
    from emsync_models.music.eval.compare import onset_beats
    from emsync_models.music.notes import midi_notes

    midi = music.midi
    notes = [n for n in midi_notes(midi) if n.start < duration_s]
    beats, downbeats = _beat_axis(midi)
    idx = np.arange(len(beats), dtype=np.float64)
    nb = onset_beats(midi, notes)
    end_beat = float(np.interp(duration_s, beats, idx)) if duration_s <= beats[-1] else float(idx[-1])
    held = held_timing(music.tempo_map)
    retimed = []
    for n, b in zip(notes, nb, strict=True):
        t, inside = held(float(b))
        if not inside and t < duration_s:
            retimed.append(Note(n.family, n.pitch, n.velocity, t, t + (n.end - n.start)))

    def drums(pattern: Pattern | None, on_held: bool) -> list[Note]:
        out = []
        for b, key in drum_notes(pattern, downbeats, end_beat):
            t, inside = held(b) if on_held else (float(np.interp(b, idx, beats)), False)
            if not inside and t < duration_s:
                out.append(Note(DRUMS, key, 70, t, t + 0.05))
        return out

    row = {"as written": measure(notes), "held beat": measure(retimed),
           "+ eighths": measure(notes + drums(None, False)),
           "held beat + eighths": measure(retimed + drums(None, True))}
    if grooves is not None:
        pattern = grooves.get(style)  # None: the family has no groove, the model's drums stay
        for name, base, on_held in (("+ style groove", notes, False), ("held beat + style groove", retimed, True)):
            played = [n for n in base if n.family != DRUMS] + drums(pattern, on_held) if pattern else list(base)
            row[name] = measure(played)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=None, help="music corpus v2 folder (for style grooves)")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--top-p", type=float, default=None, help="default: v2's own (emsync_models.music.registry)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from emsync_models.music.eval.compare import CompareConfig
    from emsync_models.music.eval.v1 import random_cuts
    from emsync_models.music.request import GenerationRequest
    from emsync_models.music.v2.generator import load_generator_v2

    torch.set_num_threads(1)
    grooves = style_grooves(args.corpus) if args.corpus else None
    gen = load_generator_v2()
    cfg = CompareConfig(seeds=tuple(range(args.seeds)))  # the eval's grid, length and cuts
    rows, t0, duration, total = [], time.time(), cfg.duration_s, len(cfg.grid) ** 2 * args.seeds
    for v in cfg.grid:
        for a in cfg.grid:
            for seed in cfg.seeds:
                cuts = random_cuts(np.random.default_rng([seed, 77]), duration)
                music = gen.generate(GenerationRequest(duration, tuple(cuts), ((0.0, v, a),), seed=seed,
                                                       top_p=args.top_p))
                rows.append(variants(music, duration, music.style, grooves))
                print(f"\r{len(rows)}/{total} pieces, {time.time() - t0:.0f} s", end="", flush=True)
    print()
    summary = {k: {"whole": float(np.median([r[k][0] for r in rows])),
                   "windows": float(np.median([r[k][1] for r in rows]))} for k in rows[0]}
    for k, s in summary.items():
        print(f"{k:28s} whole {s['whole']:.3f}  8 s windows {s['windows']:.3f}")
    if args.json:
        top_p = gen.default_top_p if args.top_p is None else args.top_p
        args.json.write_text(json.dumps({"top_p": top_p, "seeds": args.seeds, "grooves": grooves,
                                         "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
