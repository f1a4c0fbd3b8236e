"""Measures of a long piece's form, taken from the MIDI alone (bars from its own meter and tempo map).

- **structureness** at short / middle / long scales: a symbolic stand-in for the fitness scape plot's
  structureness indicator. Each bar is a pitch-class profile (duration-weighted, the piece's mean
  profile taken out, so two bars are alike for what sets them apart, not for sharing the key); a
  segment of L bars is *found again* at another place when the mean similarity of the L aligned bar
  pairs reaches `MATCH`. A segment's fitness is the share of the piece its non-overlapping
  repetitions (itself included) cover; the indicator at a scale is the largest fitness over every
  segment whose length in seconds falls in that scale (short 4-8 s, middle 8-16 s, long 16-32 s).
- **restated share**: bars inside a 4-bar unit that restates or varies an earlier unit (mean aligned
  similarity >= `MATCH`, in any transposition), beside the same on the bars shuffled.
- instrument changes and key changes per minute (and, given a plan, the share of 30 s windows heard in
  the key planned for their section), tempo range, per-minute arousal -> note density and
  velocity (Spearman), and whether sections of one feeling sound alike (their 4-bar top-line units
  matched across sections, same-feeling pairs minus different-feeling pairs).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import pretty_midi

from emsync_models.music.analysis.descriptors import key_of
from emsync_models.music.analysis.metrics import spearman

MATCH = 0.75
UNIT_BARS = 4
SCALES_S = {"short": (4.0, 8.0), "middle": (8.0, 16.0), "long": (16.0, 32.0)}
KEY_WINDOW_S = 30.0
ENSEMBLE_WINDOW_S = 20.0
STEPS_PER_BAR = 16


def bar_edges(midi: pretty_midi.PrettyMIDI, end_s: float) -> np.ndarray:
    """Downbeat times up to `end_s`, and `end_s` itself closing the last bar."""
    downbeats = [float(t) for t in midi.get_downbeats() if t < end_s - 1e-6]
    if not downbeats or downbeats[0] > 1e-6:
        downbeats.insert(0, 0.0)
    return np.array(downbeats + [end_s])


def bar_chroma(midi: pretty_midi.PrettyMIDI, edges: np.ndarray) -> np.ndarray:
    """(bars, 12) pitch-class durations per bar, drums left out."""
    out = np.zeros((len(edges) - 1, 12))
    for inst in midi.instruments:
        if inst.is_drum:
            continue
        for n in inst.notes:
            first = max(int(np.searchsorted(edges, n.start, side="right")) - 1, 0)
            last = min(int(np.searchsorted(edges, n.end, side="left")), len(edges) - 1)
            for b in range(first, last):
                overlap = min(n.end, edges[b + 1]) - max(n.start, edges[b])
                if overlap > 0:
                    out[b, n.pitch % 12] += overlap
    return out


def _unit(rows: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norm, out=np.zeros_like(rows), where=norm > 0)


def bar_similarity(chroma: np.ndarray, shifts: int = 1) -> np.ndarray:
    """(shifts, bars, bars): cosine of the centred bar profiles, the second bar moved by 0..shifts-1
    semitones (12 shifts: a unit restated in another key matches in one of them)."""
    centred = _unit(chroma / np.maximum(chroma.sum(axis=1, keepdims=True), 1e-9)
                    - (chroma.sum(axis=0) / max(chroma.sum(), 1e-9)))
    return np.stack([centred @ np.roll(centred, k, axis=1).T for k in range(shifts)])


def _diagonal_means(sim: np.ndarray, length: int) -> np.ndarray:
    """(n - length + 1)^2: the mean similarity of `length` aligned bar pairs from (i, j), best over the
    shifts of `sim` (one shift for the whole unit)."""
    n = sim.shape[-1] - length + 1
    if n <= 0:
        return np.zeros((0, 0))
    acc = np.zeros((sim.shape[0], n, n))
    for k in range(length):
        acc += sim[:, k:k + n, k:k + n]
    return acc.max(axis=0) / length


def fitness(sim: np.ndarray, length: int) -> float:
    """The largest share of the piece that one `length`-bar segment's non-overlapping repeats cover."""
    means = _diagonal_means(sim, length)
    total = sim.shape[-1]
    best = 0.0
    for i in range(means.shape[0]):
        hits = np.flatnonzero(means[i] >= MATCH)
        taken: list[int] = []
        for j in hits:  # greedy left to right; the segment itself (j == i) is always one
            if all(abs(j - t) >= length for t in taken):
                taken.append(int(j))
        if len(taken) > 1:
            best = max(best, len(taken) * length / total)
    return best


def structureness(sim: np.ndarray, bar_s: float) -> dict[str, float]:
    """The indicator at each scale: the best fitness over segment lengths (in bars) within its seconds."""
    out = {}
    for name, (lo, hi) in SCALES_S.items():
        half = sim.shape[-1] // 2
        lengths = [n for n in range(1, half + 1) if lo <= n * bar_s < hi]
        if not lengths:  # bars longer than the scale's span: the one length nearest its middle
            nearest = max(1, int(round((lo + hi) / 2 / max(bar_s, 1e-6))))
            lengths = [nearest] if nearest <= half else []
        out[name] = round(max((fitness(sim, n) for n in lengths), default=0.0), 4)
    return out


def restated_share(sim: np.ndarray, unit: int = UNIT_BARS) -> float:
    """Share of bars inside a `unit`-bar unit that restates or varies an earlier, non-overlapping one."""
    means = _diagonal_means(sim, unit)
    covered = np.zeros(sim.shape[-1], dtype=bool)
    for i in range(unit, means.shape[0]):
        if (means[i, :i - unit + 1] >= MATCH).any():
            covered[i:i + unit] = True
    return float(covered.mean()) if covered.size else 0.0


def shuffled_share(chroma: np.ndarray, seed: int = 0) -> float:
    """The restated share of the same bars in a random order: what chance alone gives."""
    order = np.random.default_rng(seed).permutation(chroma.shape[0])
    return restated_share(bar_similarity(chroma[order], shifts=12))


def window_key_starts(midi: pretty_midi.PrettyMIDI, end_s: float,
                      window_s: float = KEY_WINDOW_S) -> list[tuple[float, tuple[int, str]]]:
    """(start, best-matching key) of each `window_s` window that has pitched notes (duration-weighted)."""
    keys = []
    for start in np.arange(0.0, max(end_s - window_s / 2, window_s / 2), window_s):
        hist = np.zeros(12)
        for inst in midi.instruments:
            if inst.is_drum:
                continue
            for n in inst.notes:
                overlap = min(n.end, start + window_s) - max(n.start, start)
                if overlap > 0:
                    hist[n.pitch % 12] += overlap
        if hist.sum() > 0:
            tonic, mode, _ = key_of(hist)
            keys.append((float(start), (tonic, mode)))
    return keys


def in_planned_key(starts_keys: Sequence[tuple[float, tuple[int, str]]], window_s: float,
                   planned: Sequence[tuple[float, tuple[int, str]]]) -> float | None:
    """Share of windows heard in the key planned for the section their middle falls in (`planned`:
    (section start s, (tonic, mode)) in order); None without windows or a plan."""
    if not starts_keys or not planned:
        return None
    starts = [t for t, _ in planned]
    hits = [key == planned[max(bisect.bisect_right(starts, start + window_s / 2) - 1, 0)][1]
            for start, key in starts_keys]
    return sum(hits) / len(hits)


def window_ensembles(midi: pretty_midi.PrettyMIDI, end_s: float,
                     window_s: float = ENSEMBLE_WINDOW_S) -> list[frozenset]:
    """The instruments (program; drums as -1) sounding in each `window_s` window."""
    out = []
    for start in np.arange(0.0, end_s, window_s):
        out.append(frozenset(-1 if inst.is_drum else inst.program for inst in midi.instruments
                             if any(n.start < start + window_s and n.end > start for n in inst.notes)))
    return out


def changes(seq: Sequence) -> int:
    return sum(1 for a, b in zip(seq, seq[1:], strict=False) if a != b)


def changes_at(seq: Sequence, window_s: float, boundaries_s: Sequence[float]) -> float | None:
    """Share of changes between consecutive windows that a boundary explains: one falls inside the
    later window or the earlier one (None without changes)."""
    edges = [window_s * (k + 1) for k, (a, b) in enumerate(zip(seq, seq[1:], strict=False)) if a != b]
    if not edges:
        return None
    near = [any(e - window_s <= t < e + window_s for t in boundaries_s) for e in edges]
    return sum(near) / len(near)


def tempo_range(midi: pretty_midi.PrettyMIDI, end_s: float, min_span_s: float = 10.0) -> tuple[float, float]:
    """Lowest and highest tempo held for at least `min_span_s` (short hit-point steps left out)."""
    times, bpms = midi.get_tempo_changes()
    spans = np.diff(np.append(times, end_s))
    held = [b for b, s in zip(bpms, spans, strict=True) if s >= min_span_s] or list(bpms)
    return float(min(held)), float(max(held))


def per_minute(midi: pretty_midi.PrettyMIDI, trajectory: Sequence[tuple[float, float, float]],
               end_s: float) -> dict[str, list[float]]:
    """Per whole minute: mean arousal (duration-weighted), pitched onsets per second, mean velocity."""
    onsets, velocities = [], []
    for inst in midi.instruments:
        if not inst.is_drum:
            onsets.extend(n.start for n in inst.notes)
            velocities.extend(n.velocity for n in inst.notes)
    on, vel = np.array(onsets), np.array(velocities, dtype=np.float64)
    starts = [e[0] for e in trajectory] + [end_s]
    out: dict[str, list[float]] = {"arousal": [], "density": [], "velocity": []}
    for m in range(int(end_s // 60)):
        lo, hi = 60.0 * m, 60.0 * (m + 1)
        weight = [max(min(hi, starts[i + 1]) - max(lo, starts[i]), 0.0) for i in range(len(trajectory))]
        out["arousal"].append(float(np.dot(weight, [e[2] for e in trajectory]) / max(sum(weight), 1e-9)))
        inside = (on >= lo) & (on < hi)
        out["density"].append(float(inside.sum() / 60.0))
        out["velocity"].append(float(vel[inside].mean()) if inside.any() else 0.0)
    return out


def top_line_units(midi: pretty_midi.PrettyMIDI, edges: np.ndarray, unit: int = UNIT_BARS) -> np.ndarray:
    """(bars, unit * STEPS_PER_BAR): the highest pitch struck on each sixteenth of the `unit` bars from
    each bar (-1 where nothing is struck): the melody's notes and rhythm, for matching melodies."""
    n = len(edges) - 1
    grid = np.full((n, STEPS_PER_BAR), -1, dtype=np.int64)
    for inst in midi.instruments:
        if inst.is_drum:
            continue
        for note in inst.notes:
            b = max(int(np.searchsorted(edges, note.start, side="right")) - 1, 0)
            if b >= n:
                continue
            s = min(int(round((note.start - edges[b]) / (edges[b + 1] - edges[b]) * STEPS_PER_BAR)), STEPS_PER_BAR - 1)
            grid[b, s] = max(grid[b, s], note.pitch)
    units = np.full((n, unit * STEPS_PER_BAR), -1, dtype=np.int64)
    for b in range(n):
        block = grid[b:b + unit].reshape(-1)
        units[b, :block.size] = block
    return units


def melody_match(a: np.ndarray, b: np.ndarray) -> float:
    """Best over transpositions of the share of struck sixteenths (in either unit) where both strike
    notes the same interval apart: a melody moved to another key or octave still matches."""
    both = (a >= 0) & (b >= 0)
    either = int(((a >= 0) | (b >= 0)).sum())
    if not either or not both.any():
        return 0.0
    _, counts = np.unique(a[both] - b[both], return_counts=True)
    return float(counts.max() / either)


def theme_return(midi: pretty_midi.PrettyMIDI, edges: np.ndarray, sections: Sequence[dict]) -> dict:
    """Sections of one feeling against sections of different feelings: the mean over section pairs of
    the best match between their 4-bar top-line units, same-feeling pairs minus different-feeling pairs."""
    units = top_line_units(midi, edges)
    starts = edges[:-1]
    spans = [np.flatnonzero((starts >= s["start_s"] - 1e-6) & (starts < s["end_s"] - 1e-6)) for s in sections]
    same, other = [], []
    for i in range(len(sections)):
        for j in range(i + 1, len(sections)):
            if not len(spans[i]) or not len(spans[j]):
                continue
            best = max(melody_match(units[x], units[y]) for x in spans[i] for y in spans[j])
            (same if sections[i]["feeling"] == sections[j]["feeling"] else other).append(best)
    s = float(np.mean(same)) if same else float("nan")
    o = float(np.mean(other)) if other else float("nan")
    return {"same_feeling": round(s, 4), "different_feeling": round(o, 4), "difference": round(s - o, 4),
            "pairs": [len(same), len(other)]}


def measure_long_piece(midi: pretty_midi.PrettyMIDI, end_s: float | None = None,
                       trajectory: Sequence[tuple[float, float, float]] | None = None,
                       sections: Sequence[dict] | None = None, edges: np.ndarray | None = None,
                       tempi: tuple[float, float] | None = None, planned_s: Sequence[float] | None = None,
                       planned_keys: Sequence[tuple[float, tuple[int, str]]] | None = None) -> dict:
    """Every long-form measure of one piece. Arousal-following needs its `trajectory`, theme return its
    `sections` (start_s, end_s, feeling), changes at boundaries the `planned_s` section starts, windows
    in the planned key the `planned_keys` ((section start s, (tonic, mode)), in order); `edges`
    (bar lines, s) and `tempi` (lowest, highest) stand in for the MIDI's own meter and tempo map where it
    has none (pieces joined end to end)."""
    end_s = float(end_s if end_s is not None else midi.get_end_time())
    edges = bar_edges(midi, end_s) if edges is None else edges
    chroma = bar_chroma(midi, edges)
    bar_s = float(np.median(np.diff(edges)))
    minutes = end_s / 60.0
    starts_keys = window_key_starts(midi, end_s)
    keys = [key for _, key in starts_keys]
    ensembles = window_ensembles(midi, end_s)
    lo, hi = tempo_range(midi, end_s) if tempi is None else tempi
    global_key = key_of(chroma.sum(axis=0))[:2] if chroma.sum() > 0 else (0, "major")
    out: dict = {
        "duration_s": round(end_s, 2),
        "bars": int(len(edges) - 1),
        "structureness": structureness(bar_similarity(chroma), bar_s),
        "restated_share": round(restated_share(bar_similarity(chroma, shifts=12)), 4),
        "restated_share_shuffled": round(shuffled_share(chroma), 4),
        "instrument_changes_per_min": round(changes(ensembles) / minutes, 4),
        "key_changes_per_min": round(changes(keys) / minutes, 4),
        "distinct_keys": len(set(keys)),
        "windows_in_global_key": round(sum(k == global_key for k in keys) / max(len(keys), 1), 4),
        "tempo_range_bpm": [round(lo, 2), round(hi, 2)],
    }
    if planned_s is not None:  # where the music was meant to turn: do its keys and ensembles turn there?
        out["key_changes_at_boundaries"] = changes_at(keys, KEY_WINDOW_S, planned_s)
        out["instrument_changes_at_boundaries"] = changes_at(ensembles, ENSEMBLE_WINDOW_S, planned_s)
    if planned_keys:  # is each stretch heard in the key the plan gave it?
        out["windows_in_planned_key"] = in_planned_key(starts_keys, KEY_WINDOW_S, planned_keys)
    if trajectory is not None and end_s >= 180:
        pm = per_minute(midi, trajectory, end_s)
        out["per_minute"] = {k: [round(x, 4) for x in v] for k, v in pm.items()}
        out["rho_arousal_density"] = round(spearman(pm["arousal"], pm["density"]), 4)
        out["rho_arousal_velocity"] = round(spearman(pm["arousal"], pm["velocity"]), 4)
    if sections:
        out["theme_return"] = theme_return(midi, edges, sections)
    return out
