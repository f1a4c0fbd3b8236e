"""Proxy emotion labels for the v2 corpus (proxies, not listener ratings; see DATASHEET.md).

valence = 0.6 x mode (+1 major, -1 minor) + 0.4 x (bright - dark chord share), chord shares weighted
by duration; bright = major, dominant and major-seventh, sus and augmented chords; dark = minor,
minor-seventh and diminished chords.

arousal = 0.35 x tempo + 0.30 x onset density + 0.20 x drum activity + 0.15 x velocity, each term
scaled to [-1, 1] around the corpus's median piece (measured on a 300-piece build: 118 BPM, 2.75
distinct pitched onsets/s, 2.6 drum onsets/s, velocity 75; tempo +-45 BPM, densities +-1.5 octaves
of rate, velocity +-15 map to +-1), so the proxy spreads over its range instead of bunching.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emsync_models.music.corpus.layout import ChartChord, PieceLabels

BRIGHT = frozenset({"maj", "7", "maj7", "sus4", "aug"})
DARK = frozenset({"min", "m7", "dim", "m7b5", "dim7"})


def valence_proxy(mode: str, chords: Sequence[ChartChord]) -> float:
    total = sum(c.duration_beats for c in chords) or 1.0
    bright = sum(c.duration_beats for c in chords if c.quality in BRIGHT) / total
    dark = sum(c.duration_beats for c in chords if c.quality in DARK) / total
    mode_term = 1.0 if mode == "major" else -1.0
    return float(np.clip(0.6 * mode_term + 0.4 * (bright - dark), -1.0, 1.0))


def _scaled(x: float, mid: float, half_range: float) -> float:
    return float(np.clip((x - mid) / half_range, -1.0, 1.0))


def arousal_proxy(mean_bpm: float, pitched_onsets_per_s: float, drum_onsets_per_s: float,
                  mean_velocity: float) -> float:
    tempo = _scaled(mean_bpm, 115.0, 45.0)
    density = float(np.clip(np.log2(max(pitched_onsets_per_s, 0.1) / 2.75) / 1.5, -1.0, 1.0))
    drums = float(np.clip(np.log2(max(drum_onsets_per_s, 0.1) / 2.6) / 1.5, -1.0, 1.0))
    velocity = _scaled(mean_velocity, 75.0, 15.0)
    return float(np.clip(0.35 * tempo + 0.30 * density + 0.20 * drums + 0.15 * velocity, -1.0, 1.0))


def mean_bpm(labels: PieceLabels, total_beats: float) -> float:
    """Beat-weighted mean tempo of the tempo map over the piece."""
    points = list(labels.tempo_map)
    bounds = [p.beat for p in points[1:]] + [total_beats]
    spans = [max(b - p.beat, 0.0) for p, b in zip(points, bounds, strict=True)]
    if sum(spans) <= 0:
        return points[0].bpm
    return float(sum(p.bpm * s for p, s in zip(points, spans, strict=True)) / sum(spans))


def proxies_for(labels: PieceLabels, notes: Sequence[tuple[bool, int, int, float, float]], velocities: Sequence[int],
                duration_s: float) -> tuple[float, float]:
    """(valence, arousal) proxies of one piece; `notes` as render.piece_notes_seconds gives them."""
    mode = labels.keys[0].mode
    valence = valence_proxy(mode, labels.chords)
    dur = max(duration_s, 1e-3)
    pitched = len({(round(n[3], 3)) for n in notes if not n[0]}) / dur
    drums = len({(round(n[3], 3)) for n in notes if n[0]}) / dur
    vel = float(np.mean(velocities)) if len(velocities) else 80.0
    bpm = mean_bpm(labels, labels.n_bars * labels.beats_per_bar)
    return valence, arousal_proxy(bpm, pitched, drums, vel)
