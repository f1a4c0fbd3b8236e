"""The music evaluation protocol behind `emsync eval music`.

(a) boundary alignment: the same checkpoint, the same seeds and the same random cut lists, once with
    the boundary input and once with it neutralised (told "no boundary near" at every step);
    measured twice: on the CHORD markers the model emits, and on chord changes the chord analyser
    finds in the decoded MIDI (the stricter test: did the harmony actually move at the cut?).
(b) emotion control: a (V, A) grid x seeds; Spearman rho of requested valence vs measured mode score
    and of requested arousal vs measured note density (the proxies' own measurements).
(c) corpus statistics of the generated pieces vs held-out validation pieces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from emsync_models.music.analysis.chords import chord_changes_from_notes
from emsync_models.music.analysis.descriptors import mode_score, note_density, pitch_class_histogram
from emsync_models.music.analysis.metrics import boundary_alignment, corpus_statistics, spearman
from emsync_models.music.notes import Note, midi_notes
from emsync_models.music.request import GenerationRequest
from emsync_models.music.v1.dataset import BatchSampler, TokenCorpus
from emsync_models.music.v1.generator import MusicGeneratorV1
from emsync_models.music.v1.vocab import EventTokenizer


@dataclass(frozen=True)
class EvalConfig:
    alignment_pieces: int = 12
    alignment_duration_s: float = 30.0
    grid: tuple[float, ...] = (-0.8, 0.0, 0.8)
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    control_duration_s: float = 20.0
    temperature: float = 1.0
    top_p: float = 0.95
    val_pieces: int = 40


def random_cuts(rng: np.random.Generator, duration_s: float, min_gap: float = 4.0, max_gap: float = 9.0) -> list[float]:
    """Scene-cut-like boundaries: gaps drawn uniformly in [min_gap, max_gap] seconds."""
    cuts, t = [], float(rng.uniform(2.0, max_gap))
    while t < duration_s - 1.0:
        cuts.append(round(t, 3))
        t += float(rng.uniform(min_gap, max_gap))
    return cuts


def _analysed_changes(midi_notes_: Sequence[Note]) -> list[float]:
    return chord_changes_from_notes(midi_notes_)


def evaluate_alignment(
    gen: MusicGeneratorV1, cfg: EvalConfig, progress: Callable[[str], None] | None = None
) -> dict:
    rng = np.random.default_rng(1234)
    grid_points = [(v, a) for v in cfg.grid for a in cfg.grid]
    # (neutralise the boundary input?, snap time shifts onto boundaries?) per variant
    variants = {
        "with_boundaries": (False, True),
        "neutralised": (True, True),
        "with_boundaries_no_snap": (False, False),
        "neutralised_no_snap": (True, False),
    }
    runs: dict[str, dict[str, list]] = {
        mode: {"bounds": [], "markers": [], "analysed": [], "arousal": []} for mode in variants
    }
    for i in range(cfg.alignment_pieces):
        cuts = random_cuts(rng, cfg.alignment_duration_s)
        v, a = grid_points[i % len(grid_points)]
        req = GenerationRequest(
            cfg.alignment_duration_s, tuple(cuts), ((0.0, v, a),), seed=i, temperature=cfg.temperature,
            top_p=cfg.top_p,
        )
        for mode, (neutral, snap) in variants.items():
            music = gen.generate(req, neutralise_boundaries=neutral, snap=snap)
            runs[mode]["bounds"].append(cuts)
            runs[mode]["markers"].append(music.chord_marker_times_s)
            runs[mode]["analysed"].append(music.chord_change_times_s)
            runs[mode]["arousal"].append(a)
        if progress:
            progress(f"alignment piece {i + 1}/{cfg.alignment_pieces}")
    out: dict = {}
    for mode, r in runs.items():
        out[mode] = {
            "chord_markers": boundary_alignment(r["bounds"], r["markers"]).to_dict(),
            "analysed_chord_changes": boundary_alignment(r["bounds"], r["analysed"]).to_dict(),
            "analysed_changes_per_s": float(
                sum(len(c) for c in r["analysed"]) / (cfg.alignment_duration_s * len(r["analysed"]))
            ),
            # busy and sparse music fail differently: hit shares per requested arousal
            "by_arousal": {
                str(level): {
                    kind: boundary_alignment(
                        [b for b, x in zip(r["bounds"], r["arousal"], strict=True) if x == level],
                        [c for c, x in zip(r[kind], r["arousal"], strict=True) if x == level],
                    ).hit_share
                    for kind in ("markers", "analysed")
                }
                for level in sorted(set(r["arousal"]))
            },
        }
    return out


def evaluate_control(
    gen: MusicGeneratorV1, cfg: EvalConfig, progress: Callable[[str], None] | None = None
) -> tuple[dict, list[list[Note]]]:
    rows, generated = [], []
    cuts = tuple(np.arange(6.0, cfg.control_duration_s - 1.0, 6.0).round(3).tolist())
    total = len(cfg.grid) ** 2 * len(cfg.seeds)
    for v in cfg.grid:
        for a in cfg.grid:
            for seed in cfg.seeds:
                req = GenerationRequest(
                    cfg.control_duration_s, cuts, ((0.0, v, a),), seed=seed, temperature=cfg.temperature,
                    top_p=cfg.top_p,
                )
                t0 = time.time()
                tokens = gen.generate_tokens(req)
                elapsed = time.time() - t0
                notes = gen.decode_notes(tokens, end_time=cfg.control_duration_s)
                generated.append(notes)
                rows.append(
                    {
                        "valence": v,
                        "arousal": a,
                        "seed": seed,
                        "mode_score": mode_score(pitch_class_histogram(notes)),
                        "note_density": note_density(notes, cfg.control_duration_s),
                        "tokens": len(tokens),
                        "seconds": elapsed,
                    }
                )
                if progress:
                    progress(f"control piece {len(rows)}/{total}")
    col = {k: [r[k] for r in rows] for k in rows[0]}
    result = {
        "points": len(rows),
        "valence_vs_mode_rho": spearman(col["valence"], col["mode_score"]),
        "arousal_vs_density_rho": spearman(col["arousal"], col["note_density"]),
        "valence_vs_density_rho": spearman(col["valence"], col["note_density"]),
        "arousal_vs_mode_rho": spearman(col["arousal"], col["mode_score"]),
        "by_point": _means_by_point(rows),
        "tokens_per_s_generation": float(sum(col["tokens"]) / max(sum(col["seconds"]), 1e-9)),
        "seconds_per_piece": float(np.mean(col["seconds"])),
    }
    return result, generated


def _means_by_point(rows: list[dict]) -> list[dict]:
    out = []
    for v in sorted({r["valence"] for r in rows}):
        for a in sorted({r["arousal"] for r in rows}):
            sel = [r for r in rows if r["valence"] == v and r["arousal"] == a]
            out.append(
                {
                    "valence": v,
                    "arousal": a,
                    "mode_score": float(np.mean([r["mode_score"] for r in sel])),
                    "note_density": float(np.mean([r["note_density"] for r in sel])),
                }
            )
    return out


def validation_pieces(corpus: TokenCorpus, limit: int) -> tuple[list[list[Note]], list[float]]:
    """Held-out validation pieces at their original tempo, decoded back to notes."""
    tok = EventTokenizer()
    ids = [i for i in corpus.piece_ids("val") if corpus.names[i].endswith("@1")] or list(corpus.piece_ids("val"))
    notes, durations = [], []
    for i in ids[:limit]:
        tokens = corpus.piece_tokens(i)
        notes.append(tok.decode_notes(tokens))
        durations.append(float(corpus.times[corpus.starts[i + 1] - 1]))
    return notes, durations


@torch.no_grad()
def valence_sensitivity(gen: MusicGeneratorV1, corpus: TokenCorpus, batches: int = 6, seed: int = 5) -> dict:
    """Held-out NLL (nats/token) with each window's own valence label, the opposite one and none.

    If the model reads the label, the opposite label costs likelihood; a model that ignores valence
    scores the three the same. Measured on 48-token openings (labelled by the 256 tokens they begin)
    and on full windows, in the key handling the model was trained with.
    """
    model = gen.model.eval()
    out: dict = {}
    for name, block, label_tokens, batch in (("openings_48", 48, 257, 32), ("windows_256", 256, None, 8)):
        sampler = BatchSampler(
            corpus, "val", block, label_dropout=0.0, seed=seed, label_tokens=label_tokens,
            key_normalise=gen.key_normalised,
        )
        sums = {"own_label": 0.0, "opposite_label": 0.0, "no_label": 0.0}
        for _ in range(batches):
            b = sampler.sample(batch)
            for key, valence in (
                ("own_label", b["valence"]),
                ("opposite_label", -b["valence"]),
                ("no_label", torch.full_like(b["valence"], float("nan"))),
            ):
                sums[key] += float(model.loss({**b, "valence": valence})) / batches
        out[name] = sums
    return out


def evaluate_music(
    gen: MusicGeneratorV1,
    corpus: TokenCorpus | None,
    cfg: EvalConfig,
    progress: Callable[[str], None] | None = None,
) -> dict:
    t0 = time.time()
    alignment = evaluate_alignment(gen, cfg, progress)
    control, generated = evaluate_control(gen, cfg, progress)
    stats: dict = {"generated": corpus_statistics(generated, [cfg.control_duration_s] * len(generated))}
    if corpus is not None:
        val_notes, val_durations = validation_pieces(corpus, cfg.val_pieces)
        stats["validation"] = corpus_statistics(val_notes, val_durations)
    sensitivity = valence_sensitivity(gen, corpus) if corpus is not None else None
    return {
        "model": {"name": gen.name, "version": gen.version, "guidance": gen.guidance, "max_note_s": gen.max_note_s},
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.__dict__.items()},
        "alignment": alignment,
        "control": control,
        "corpus_statistics": stats,
        "valence_sensitivity_nll": sensitivity,
        "eval_seconds": time.time() - t0,
    }


def midi_measurements(midi_path_notes: Sequence[Note], duration_s: float) -> dict:
    """Descriptors of one rendered example (for the model card)."""
    return {
        "mode_score": mode_score(pitch_class_histogram(midi_path_notes)),
        "note_density_per_s": note_density(midi_path_notes, duration_s),
        "chord_changes": chord_changes_from_notes(midi_path_notes),
    }


__all__ = ["EvalConfig", "evaluate_music", "midi_measurements", "midi_notes", "random_cuts"]
