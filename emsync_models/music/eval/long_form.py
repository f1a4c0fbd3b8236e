"""`emsync eval long-form`: long pieces from held-out films' scene trajectories, beside real long music.

The films are built here, not taken from any tuning: per film, a story of *acts* drawn from six kinds of
scene (calm, tense, excited, sad, happy, neutral; kinds recur, as a story returns to a feeling), each
act 40-120 s of scenes 3-12 s long whose valence/arousal scatter around the kind's. The music is driven
directly by those per-scene valence/arousal values and cuts (the video emotion path is too slow on a
shared 2-core machine for minutes of footage). Every measure comes from the written MIDI
(`longform_measures`); the plan is only used to say which sections share a feeling.

Real music: public-domain scores from music21's corpus (string quartet and symphony movements, written
to MIDI by music21), and, where a music corpus v2 is given, its longest source items' pieces joined in
their order (the corpus's own form).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi

from emsync_models.music.analysis.long_form import measure_long_piece
from emsync_models.music.request import GenerationRequest
from emsync_models.music.v2.remi import NOTE_NAMES

KINDS: dict[str, tuple[float, float]] = {
    "calm": (0.35, -0.6), "tense": (-0.5, 0.45), "excited": (0.6, 0.7),
    "sad": (-0.6, -0.5), "happy": (0.6, 0.15), "neutral": (0.0, 0.0),
}
REAL_SCORES = ("beethoven/opus18no1/movement1", "beethoven/opus59no1/movement1", "mozart/k458/movement1",
               "haydn/opus74no1/movement1", "beethoven/opus59no2/movement1", "beethoven/opus59no3/movement1",
               "beethoven/opus132", "schubert/d576")


@dataclass(frozen=True)
class Film:
    name: str
    duration_s: float
    cuts_s: tuple[float, ...]
    trajectory: tuple[tuple[float, float, float], ...]
    acts: tuple[str, ...]


def held_out_film(minutes: float, seed: int) -> Film:
    """A film of `minutes` whose acts return to earlier kinds of scene."""
    rng = np.random.default_rng([seed, 3030])
    kinds = list(KINDS)
    duration = minutes * 60.0
    acts: list[str] = []
    t, scenes = 0.0, []
    while t < duration - 1.0:
        # after the first three acts, half the acts return to a kind already seen
        seen = list(dict.fromkeys(acts))
        if len(seen) >= 3 and rng.random() < 0.5:
            kind = str(rng.choice([k for k in seen if k != acts[-1]] or seen))
        else:
            kind = str(rng.choice([k for k in kinds if not acts or k != acts[-1]]))
        acts.append(kind)
        end = min(t + float(rng.uniform(40.0, 120.0)), duration)
        if duration - end < 30.0:
            end = duration
        v0, a0 = KINDS[kind]
        while t < end - 1.0:
            v = float(np.clip(v0 + rng.normal(0, 0.1), -1, 1))
            a = float(np.clip(a0 + rng.normal(0, 0.1), -1, 1))
            scenes.append((round(t, 3), round(v, 3), round(a, 3)))
            t = min(t + float(rng.uniform(3.0, 12.0)), end)
        t = end
    cuts = tuple(s[0] for s in scenes[1:])
    return Film(f"film{seed}-{minutes:g}min", duration, cuts, tuple(scenes), tuple(acts))


def act_spans(film: Film) -> list[dict]:
    """The film's acts as (start, end, kind): the same for every model, so theme return compares alike."""
    out: list[dict] = []
    starts = [s[0] for s in film.trajectory]
    kinds = [_kind_of(v, a) for _, v, a in film.trajectory]
    for start, kind in zip(starts, kinds, strict=True):
        if out and out[-1]["feeling"] == kind:
            continue
        if out:
            out[-1]["end_s"] = start
        out.append({"start_s": start, "end_s": film.duration_s, "feeling": kind})
    return [s for s in out if s["end_s"] - s["start_s"] >= 20.0]


def _kind_of(v: float, a: float) -> int:
    names = list(KINDS)
    return min(range(len(names)), key=lambda i: (KINDS[names[i]][0] - v) ** 2 + (KINDS[names[i]][1] - a) ** 2)


def planned_key(name: str) -> tuple[int, str]:
    """(tonic pitch class, mode) of a plan's key name ("F# major")."""
    tonic, mode = name.split()
    return NOTE_NAMES.index(tonic), mode


def evaluate_model(gen: Any, films: Sequence[Film], seeds: Sequence[int], out_dir: Path | None,  # noqa: ANN401
                   progress: Callable[[str], None] | None = None) -> list[dict]:
    rows = []
    for film in films:
        for seed in seeds:
            if progress:
                progress(f"{film.name} seed {seed}")
            request = GenerationRequest(film.duration_s, film.cuts_s, film.trajectory, seed=seed)
            music = gen.generate(request)
            plan = getattr(music, "plan", None) or None
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                music.midi.write(str(out_dir / f"{film.name}-s{seed}.mid"))
            acts = act_spans(film)
            turns = [s["start_s"] for s in plan["sections"][1:]] if plan else [s["start_s"] for s in acts[1:]]
            keys = [(s["start_s"], planned_key(s["key_name"])) for s in plan["sections"]] if plan else None
            row = measure_long_piece(music.midi, film.duration_s, film.trajectory, acts, planned_s=turns,
                                     planned_keys=keys)
            row.update(film=film.name, seed=seed)
            if plan:
                row["plan"] = plan
                row["planned_tempo_range_bpm"] = plan["tempo_range_bpm"]
            rows.append(row)
    return rows


def real_scores(names: Sequence[str] = REAL_SCORES, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Long public-domain scores from music21's corpus, written to MIDI and measured."""
    from music21 import corpus, defaults

    # music21 writes 10,080 ticks a quarter: a ten-minute movement passes pretty_midi's 1e7-tick guard
    defaults.ticksPerQuarter = 480
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if progress:
                progress(f"music21 {name}")
            try:
                score = corpus.parse(name)
            except Exception:  # noqa: BLE001 - a score missing from this music21 build is skipped, and said
                rows.append({"piece": name, "error": "not in this music21 corpus"})
                continue
            path = Path(tmp) / "score.mid"
            try:
                score.write("midi", fp=str(path))
                midi = pretty_midi.PrettyMIDI(str(path))
            except Exception as exc:  # noqa: BLE001 - music21's repeat expander and MIDI writer raise their own
                rows.append({"piece": name, "error": f"not written to MIDI: {exc}"})
                continue
            row = measure_long_piece(midi)
            row["piece"] = f"music21:{name}"
            rows.append(row)
    return rows


def corpus_joined(corpus_dir: Path, pieces: int = 4, max_s: float = 600.0) -> list[dict]:
    """The corpus's source items with the most music: the pieces made from one item (its progression in
    several grooves) joined in their order, up to `max_s`, each keeping its own bars and tempo."""
    manifest = corpus_dir / "manifest.jsonl"
    if not manifest.is_file():
        return []
    groups: dict[str, list[dict]] = {}
    for line in manifest.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("status", "ok") == "ok" and entry.get("source_item"):
            groups.setdefault(str(entry["source_item"]), []).append(entry)
    ranked = sorted(groups.items(), key=lambda kv: -sum(float(e.get("duration_s", 0)) for e in kv[1]))
    rows = []
    for item, entries in ranked[:pieces]:
        joined = pretty_midi.PrettyMIDI(initial_tempo=120.0)
        offset, edges, tempi = 0.0, [], []
        tracks: dict[tuple[int, bool], pretty_midi.Instrument] = {}
        for e in sorted(entries, key=lambda e: str(e["id"])):
            if offset >= max_s:
                break
            piece = pretty_midi.PrettyMIDI(str(corpus_dir / "midi" / f"{e['id']}.mid"))
            end = float(e.get("duration_s") or piece.get_end_time())
            for inst in piece.instruments:
                key = (inst.program, inst.is_drum)
                if key not in tracks:
                    tracks[key] = pretty_midi.Instrument(inst.program, is_drum=inst.is_drum)
                    joined.instruments.append(tracks[key])
                tracks[key].notes.extend(pretty_midi.Note(n.velocity, n.pitch, n.start + offset, n.end + offset)
                                         for n in inst.notes if n.start < end)
            edges.extend(offset + t for t in piece.get_downbeats() if t < end - 1e-6)
            tempi.append(float(e.get("tempo_bpm") or piece.estimate_tempo()))
            offset += end
        row = measure_long_piece(joined, offset, edges=np.array(edges + [offset]), tempi=(min(tempi), max(tempi)))
        row["piece"] = f"corpus:{item}"
        rows.append(row)
    return rows


def summarise(rows: Sequence[dict]) -> dict:
    """Median and interquartile range of each measure over pieces."""
    def stats(values: list[float]) -> dict:
        arr = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
        if not arr.size:
            return {"median": None, "q1": None, "q3": None, "n": 0}
        q1, med, q3 = np.percentile(arr, [25, 50, 75])
        return {"median": round(float(med), 4), "q1": round(float(q1), 4), "q3": round(float(q3), 4),
                "n": int(arr.size)}

    good = [r for r in rows if "error" not in r]
    out: dict[str, dict] = {}
    for scale in ("short", "middle", "long"):
        out[f"structureness_{scale}"] = stats([r["structureness"][scale] for r in good])
    for key in ("restated_share", "restated_share_shuffled", "instrument_changes_per_min", "key_changes_per_min",
                "windows_in_global_key", "rho_arousal_density", "rho_arousal_velocity",
                "key_changes_at_boundaries", "instrument_changes_at_boundaries", "windows_in_planned_key"):
        out[key] = stats([r.get(key) for r in good if key in r])
    out["tempo_range_ratio"] = stats([r["tempo_range_bpm"][1] / max(r["tempo_range_bpm"][0], 1e-6) for r in good])
    out["theme_return_difference"] = stats([r["theme_return"]["difference"] for r in good if "theme_return" in r])
    return out
