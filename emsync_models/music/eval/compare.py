"""`emsync eval music-v2`: v1 and v2 side by side on one protocol, with the corpus's own numbers beside them.

Protocol: a valence x arousal grid, several seeds, fixed-length pieces with irregular cuts (gaps drawn
in 4..9 s). Every measure is taken from the notes of the written MIDI (never from the model's own
markers): semitone clashes, silence, pulse (on-grid share and pulse clarity), audible harmony change at
the cuts against the same test at random times, hit-time error, valence -> mode and arousal -> density
(Spearman), density per cell against the corpus's 5-95 % range, bass presence, velocity spread,
loudness / peak / clipping of the raw render and of the delivered (normalised, limited) one, and the
composer's lines (`craft_measures`): accents on hits, 4-bar phrases of 4/4, tempo range, notes outside
their GM instrument's range, bass and final-chord instruments, opening silence.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi

from emsync_models.music.analysis.craft import craft_measures
from emsync_models.music.analysis.descriptors import mode_score, note_density, pitch_class_histogram
from emsync_models.music.analysis.measures import (
    audio_measures,
    bass_presence,
    harmony_at_cuts,
    local_pulse_clarity,
    on_grid_share,
    pulse_clarity,
    semitone_clash_share,
    silence_share,
    velocity_spread,
)
from emsync_models.music.analysis.metrics import spearman
from emsync_models.music.corpus.layout import load_manifest, load_piece
from emsync_models.music.eval.v1 import random_cuts
from emsync_models.music.notes import Note, midi_notes
from emsync_models.music.request import GenerationRequest, MusicGenerator
from emsync_models.music.v2.hitpoints import MAX_BPM, MIN_BPM


@dataclass(frozen=True)
class CompareConfig:
    grid: tuple[float, ...] = (-0.8, 0.0, 0.8)
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    duration_s: float = 30.0
    renders_per_model: int = 9  # raw renders measured (one per cell, first seed)
    corpus_pieces: int = 60


def onset_beats(midi: pretty_midi.PrettyMIDI, notes: Sequence[Note]) -> np.ndarray:
    """Onsets in beats of the MIDI's own tempo map."""
    beats = midi.get_beats()
    if len(beats) < 2:
        return np.zeros(0)
    on = np.array([n.start for n in notes])
    idx = np.arange(len(beats), dtype=np.float64)
    # extrapolate past the last beat at the last beat's length
    step = beats[-1] - beats[-2]
    return np.where(on <= beats[-1], np.interp(on, beats, idx), idx[-1] + (on - beats[-1]) / step)


def on_own_beat(midi: pretty_midi.PrettyMIDI, notes: Sequence[Note], beats_of: np.ndarray) -> list[Note]:
    """The notes re-timed on the piece's own beat at its median tempo: a tempo map's steps taken out.

    A diagnostic beside pulse clarity, not a replacement: a click on every beat of a hit-point tempo
    map (steps of 2-4 % at cuts) scores about 0.69 on the whole-piece measure, which bins onsets at
    10 ms. Here the same measure asks whether the rhythm is steady relative to the beat the music keeps.
    For a constant-tempo piece (the corpus) it changes nothing. `beats_of` is `onset_beats(midi, notes)`."""
    beats = midi.get_beats()
    if len(beats) < 2 or not notes:
        return list(notes)
    beat_s = float(np.median(np.diff(beats)))
    on = beats_of * beat_s
    return [Note(n.family, n.pitch, n.velocity, float(t), float(t) + (n.end - n.start))
            for n, t in zip(notes, on, strict=True)]


def beat_clicks(midi: pretty_midi.PrettyMIDI, duration_s: float) -> list[Note]:
    """A click on every beat of the MIDI's own tempo map up to `duration_s`.

    Its pulse clarity is what the map alone leaves the measure: about 1 for a constant tempo, far less
    for a map that steps a few per cent at its cuts. It is a reference, not a strict bound: off-beats
    can score a little more (at the half-beat lag a step moves the onsets half as many ms)."""
    beats = midi.get_beats()
    return [Note(0, 60, 80, float(t), float(t) + 0.05) for t in beats if t < duration_s]


def downbeat_share(midi: pretty_midi.PrettyMIDI, cuts: Sequence[float], tolerance_s: float = 0.01) -> float:
    """Share of cuts with a downbeat of the MIDI's own bars (its time signatures) within `tolerance_s`."""
    if not cuts:
        return float("nan")
    downbeats = midi.get_downbeats()
    return float(np.mean([bool(np.any(np.abs(downbeats - c) <= tolerance_s)) for c in cuts]))


def largest_tempo_step(midi: pretty_midi.PrettyMIDI) -> float:
    """The largest relative change between two successive tempos of the MIDI (0 for a constant tempo)."""
    _, tempos = midi.get_tempo_changes()
    if len(tempos) < 2:
        return 0.0
    return float(np.max(np.abs(tempos[1:] / tempos[:-1] - 1.0)))


def piece_measures(midi: pretty_midi.PrettyMIDI, duration_s: float, cuts: Sequence[float],
                   rng: np.random.Generator) -> dict:
    notes = [n for n in midi_notes(midi) if n.start < duration_s]
    craft = craft_measures(midi, cuts, duration_s)
    harmony = harmony_at_cuts(notes, cuts, duration_s, rng)
    beats_of = onset_beats(midi, notes)
    steady = on_own_beat(midi, notes, beats_of)
    clicks = beat_clicks(midi, duration_s)
    return {
        "clash": semitone_clash_share(notes, duration_s),
        "silence": silence_share(notes, duration_s),
        "bass": bass_presence(notes, duration_s),
        "velocity_sd": velocity_spread(notes),
        "pulse_clarity": pulse_clarity(notes),
        "local_pulse_clarity": local_pulse_clarity(notes),
        "own_beat_pulse_clarity": pulse_clarity(steady),
        "own_beat_local_pulse_clarity": local_pulse_clarity(steady),
        "map_pulse_clarity": pulse_clarity(clicks),
        "map_local_pulse_clarity": local_pulse_clarity(clicks),
        "on_grid": on_grid_share(beats_of),
        "downbeat_hits": downbeat_share(midi, cuts),
        "tempo_step": largest_tempo_step(midi),
        "mode_score": mode_score(pitch_class_histogram(notes)),
        "density": note_density(notes, duration_s),
        "cut_hit": harmony["cut_hit"],
        "random_hit": harmony["random_hit"],
        "hit_errors": harmony["errors"],
        "changes_per_s": harmony["changes_per_s"],
        **craft,
    }


TARGET_LUFS = -16.0  # the renderer's default target (EMSYNC_LOUDNESS_LUFS)


def _render_measures(midi: pretty_midi.PrettyMIDI, soundfont: Path | None, duration_s: float) -> dict | None:
    """The raw render's measures, and the delivered one's: integrated loudness and true peak after the
    soundtrack path's own trim, fade and loudness normalisation (with its limiter)."""
    if soundfont is None:
        return None
    import pyloudnorm as pyln

    from emsync_models.render.audio import fade_out, fit_length, normalise_loudness, synthesize_midi
    from emsync_models.render.limiter import true_peak

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.mid"
        midi.write(str(path))
        audio, sr = synthesize_midi(path, soundfont, duration_s=duration_s)
    out = audio_measures(audio, sr)
    delivered = normalise_loudness(fade_out(fit_length(audio, round(duration_s * sr)), sr), sr, TARGET_LUFS)
    out["delivered_lufs"] = float(pyln.Meter(sr).integrated_loudness(delivered))
    out["delivered_true_peak_db"] = float(20 * np.log10(max(true_peak(delivered), 1e-12)))
    out["delivered_clipped_samples"] = int(np.count_nonzero(np.abs(delivered) >= 1.0))
    return out


PULSE_POINT_KEYS = ("pulse_clarity", "map_pulse_clarity", "local_pulse_clarity", "map_local_pulse_clarity")


def summarise(rows: list[dict], renders: list[dict]) -> dict:
    def mean(key: str) -> float:
        vals = [r[key] for r in rows if r.get(key) is not None and np.isfinite(r[key])]
        return float(np.mean(vals)) if vals else float("nan")

    errors = [e for r in rows for e in r.get("hit_errors", [])]
    out: dict[str, Any] = {k: mean(k) for k in ("clash", "silence", "bass", "velocity_sd", "pulse_clarity",
                                                 "on_grid", "density", "cut_hit", "random_hit", "changes_per_s",
                                                 "downbeat_hits")}
    for key in ("pulse_clarity", "local_pulse_clarity", "own_beat_pulse_clarity", "own_beat_local_pulse_clarity",
                "map_pulse_clarity", "map_local_pulse_clarity", "tempo_step"):
        out[key + "_median"] = float(np.median([r[key] for r in rows])) if rows else float("nan")
    out["hit_error_median_s"] = float(np.median(errors)) if errors else float("nan")
    out.update(summarise_craft(rows))
    # per piece, for the picture of pulse against what its tempo map alone scores
    out["pulse_points"] = [[round(float(r[k]), 4) for k in PULSE_POINT_KEYS] for r in rows]
    if rows and "valence" in rows[0]:
        out["valence_mode_rho"] = spearman([r["valence"] for r in rows], [r["mode_score"] for r in rows])
        out["arousal_density_rho"] = spearman([r["arousal"] for r in rows], [r["density"] for r in rows])
        cells: dict[str, dict] = {}
        for r in rows:
            cells.setdefault(f"{r['valence']:+.1f},{r['arousal']:+.1f}", []).append(r)  # type: ignore[arg-type]
        out["cells"] = {k: {"density": float(np.mean([r["density"] for r in v])),
                            "silence": float(np.mean([r["silence"] for r in v])),
                            "silence_max": float(np.max([r["silence"] for r in v]))}
                        for k, v in cells.items()}
    if renders:
        out["render"] = {k: float(np.mean([r[k] for r in renders])) for k in renders[0]}
        out["render"]["clipped_samples_total"] = int(sum(r["clipped_samples"] for r in renders))
        out["render"]["peak_max"] = float(max(r["peak"] for r in renders))
        if "delivered_lufs" in renders[0]:
            miss = [abs(r["delivered_lufs"] - TARGET_LUFS) for r in renders]
            out["render"]["delivered_lufs_miss_max"] = float(max(miss))
            out["render"]["delivered_within_1lu_share"] = float(np.mean([m <= 1.0 for m in miss]))
            out["render"]["delivered_true_peak_db_max"] = float(max(r["delivered_true_peak_db"] for r in renders))
            out["render"]["delivered_clipped_total"] = int(sum(r["delivered_clipped_samples"] for r in renders))
    return out


def summarise_craft(rows: list[dict]) -> dict:
    """The composer's lines over pieces: accents on hits, phrases, tempo range, instrument ranges, bass and
    final chord instruments, opening silence; the largest tempo step per piece is listed too."""
    if not rows:
        return {}
    gains = [g for r in rows for g in r["hit_velocity_gain"]]
    accents = [a for r in rows for a in r["hit_accent_instrument"]]
    phrases = [r["phrase_share"] for r in rows if np.isfinite(r["phrase_share"])]
    return {
        "hit_velocity_gain_median": float(np.median(gains)) if gains else float("nan"),
        "hit_accent_instrument_share": float(np.mean(accents)) if accents else float("nan"),
        "phrase_share_mean": float(np.mean(phrases)) if phrases else float("nan"),
        "phrase_share_min": float(np.min(phrases)) if phrases else float("nan"),
        "tempo_min": float(min(r["tempo_min"] for r in rows)),
        "tempo_max": float(max(r["tempo_max"] for r in rows)),
        "tempo_in_range_share": float(np.mean([MIN_BPM - 0.5 <= r["tempo_min"] and r["tempo_max"] <= MAX_BPM + 0.5
                                               for r in rows])),
        "notes_out_of_range_total": int(sum(r["notes_out_of_range"] for r in rows)),
        "pieces_with_notes_out_of_range": int(sum(r["notes_out_of_range"] > 0 for r in rows)),
        "bass_fits_share": float(np.mean([r["bass_fits"] for r in rows])),
        "final_chord_fits_share": float(np.mean([r["final_chord_fits"] for r in rows])),
        "opening_silence_max_s": float(max(r["opening_silence_s"] for r in rows)),
        "opening_silence_median_s": float(np.median([r["opening_silence_s"] for r in rows])),
        "tempo_step_per_piece": [round(float(r["tempo_step"]), 4) for r in rows],
        "tempo_step_max": float(max(r["tempo_step"] for r in rows)),
    }


def generator_rows(gen: MusicGenerator, cfg: CompareConfig, soundfont: Path | None,
                   progress: Callable[[str], None] | None = None) -> tuple[list[dict], list[dict]]:
    """Each generated piece's measures, and the raw/delivered render measures of the first seed's
    pieces (one per cell); `summarise` turns them into the eval's numbers. Runs over a seed subset can
    be pooled before summarising: every piece depends only on its cell and seed."""
    rows, renders = [], []
    total = len(cfg.grid) ** 2 * len(cfg.seeds)
    for v in cfg.grid:
        for a in cfg.grid:
            for seed in cfg.seeds:
                rng = np.random.default_rng([seed, 77])
                cuts = random_cuts(rng, cfg.duration_s)
                req = GenerationRequest(cfg.duration_s, tuple(cuts), ((0.0, v, a),), seed=seed)
                music = gen.generate(req)
                row = piece_measures(music.midi, cfg.duration_s, cuts, rng)
                row.update(valence=v, arousal=a, seed=seed)
                rows.append(row)
                if seed == cfg.seeds[0] and len(renders) < cfg.renders_per_model:
                    measured = _render_measures(music.midi, soundfont, cfg.duration_s)
                    if measured:
                        renders.append(measured)
                if progress:
                    progress(f"{len(rows)}/{total} pieces")
    return rows, renders


def evaluate_generator(gen: MusicGenerator, cfg: CompareConfig, soundfont: Path | None,
                       progress: Callable[[str], None] | None = None) -> dict:
    t0 = time.time()
    rows, renders = generator_rows(gen, cfg, soundfont, progress)
    out = summarise(rows, renders)
    out["seconds"] = time.time() - t0
    out["pieces"] = len(rows)
    return out


def evaluate_corpus(corpus_dir: Path, cfg: CompareConfig, soundfont: Path | None) -> dict:
    """The same measures on held-out corpus pieces (test split, then val), cut at the chart's sections."""
    rows_meta = [r for r in load_manifest(corpus_dir) if r.split in ("test", "val")][: cfg.corpus_pieces]
    rows, renders = [], []
    rng = np.random.default_rng(5)
    for row in rows_meta:
        piece = load_piece(corpus_dir, row.id, row)
        midi = pretty_midi.PrettyMIDI(str(piece.midi_path))
        duration = min(row.duration_s, midi.get_end_time())
        # the corpus's own "cuts": its chord changes would flatter it; use random times like the models
        cuts = random_cuts(rng, duration)
        m = piece_measures(midi, duration, cuts, rng)
        rows.append(m)
        if len(renders) < cfg.renders_per_model:
            measured = _render_measures(midi, soundfont, duration)
            if measured:
                renders.append(measured)
    out = summarise(rows, renders)
    dens = [r["density"] for r in rows]
    out["density_p05"], out["density_p95"] = (float(np.percentile(dens, 5)), float(np.percentile(dens, 95)))
    out["pieces"] = len(rows)
    return out
