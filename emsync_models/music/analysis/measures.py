"""The listener-facing measures, on notes in seconds (any generator, or the corpus): one definition each.

All work on `notes.Note` lists (family 0 = drums), so v1, v2 and corpus pieces are measured alike; the
eval, the corpus datasheet and the benchmarks all read them from here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emsync_models.music.analysis.chords import chord_changes_from_notes
from emsync_models.music.notes import Note

HOP_S = 0.05
SIMPLE_RATIOS = (1.0, 2.0, 0.5, 3.0, 1 / 3, 4.0, 0.25, 1.5, 2 / 3)
RATIO_TOLERANCE = 0.05  # relative


def _pitched(notes: Sequence[Note]) -> list[Note]:
    return [n for n in notes if n.family != 0 and n.end > n.start]


def _frames(notes: Sequence[Note], duration_s: float, drums: bool = False) -> list[set[int]]:
    """Pitches sounding in each HOP_S frame (pitched notes only, unless `drums`)."""
    n_frames = max(int(np.ceil(duration_s / HOP_S)), 1)
    frames: list[set[int]] = [set() for _ in range(n_frames)]
    sounding = [n for n in notes if n.end > n.start] if drums else _pitched(notes)
    for n in sounding:
        for f in range(max(int(n.start / HOP_S), 0), min(int(np.ceil(n.end / HOP_S)), n_frames)):
            frames[f].add(n.pitch)
    return frames


def semitone_clash_share(notes: Sequence[Note], duration_s: float) -> float:
    """Share of multi-pitch-class time in which two sounding pitch classes are a semitone apart."""
    multi = clash = 0
    for pitches in _frames(notes, duration_s):
        pcs = {p % 12 for p in pitches}
        if len(pcs) < 2:
            continue
        multi += 1
        clash += any((pc + 1) % 12 in pcs for pc in pcs)
    return clash / multi if multi else 0.0


def silence_share(notes: Sequence[Note], duration_s: float, drums_sound: bool = False) -> float:
    """Share of the piece in which no pitched note sounds (no note at all, drums included, with
    `drums_sound`: the corpus datasheet's reading, where a drum groove alone is not silence)."""
    frames = _frames(notes, duration_s, drums=drums_sound)
    return sum(1 for f in frames if not f) / len(frames)


def bass_presence(notes: Sequence[Note], duration_s: float, below: int = 48) -> float:
    """Share of the piece in which a pitched note below `below` (C3) sounds."""
    frames = _frames(notes, duration_s)
    return sum(1 for f in frames if f and min(f) < below) / len(frames)


def pulse_share(notes: Sequence[Note]) -> float:
    """Share of successive inter-onset intervals (all notes, drums too) in a simple ratio to the last."""
    onsets = np.unique(np.round([n.start for n in notes], 2))
    ioi = np.diff(onsets)
    ioi = ioi[ioi > 0.02]
    if ioi.size < 2:
        return 0.0
    ratios = ioi[1:] / ioi[:-1]
    close = np.zeros(ratios.size, dtype=bool)
    for r in SIMPLE_RATIOS:
        close |= np.abs(ratios / r - 1.0) <= RATIO_TOLERANCE
    return float(close.mean())


def velocity_spread(notes: Sequence[Note]) -> float:
    v = [n.velocity for n in notes]
    return float(np.std(v)) if len(v) > 1 else 0.0


def pulse_clarity(notes: Sequence[Note], min_lag_s: float = 0.25, max_lag_s: float = 1.5, bin_s: float = 0.01) -> float:
    """Peak of the onset train's normalised autocorrelation at beat-range lags (0..1; 1 = perfectly periodic)."""
    onsets = np.array(sorted({round(n.start, 3) for n in notes}))
    if onsets.size < 4:
        return 0.0
    train = np.zeros(int(onsets[-1] / bin_s) + 2)
    np.add.at(train, (onsets / bin_s).astype(int), 1.0)
    # a little smoothing so +-1 bin jitter of rendering does not split a peak
    train = np.convolve(train, np.array([0.25, 0.5, 0.25]), mode="same")
    ac = np.correlate(train, train, mode="full")[len(train) - 1:]
    lo, hi = int(min_lag_s / bin_s), min(int(max_lag_s / bin_s), len(ac) - 1)
    if hi <= lo or ac[0] <= 0:
        return 0.0
    return float(ac[lo : hi + 1].max() / ac[0])


def local_pulse_clarity(notes: Sequence[Note], window_s: float = 8.0, hop_s: float = 4.0) -> float:
    """Mean `pulse_clarity` over `window_s` windows: the pulse a listener follows from moment to moment.

    The whole-piece autocorrelation asks for one period across the piece, so music whose tempo steps
    at scene cuts (a hit-point tempo map) scores as pulseless even when every section is
    metronomic; windows of a few bars measure each section's own pulse.
    """
    starts = sorted(n.start for n in notes)
    if len(starts) < 4:
        return 0.0
    end, values, t = starts[-1], [], 0.0
    while t == 0.0 or t + window_s <= end + hop_s:
        inside = [n for n in notes if t <= n.start < t + window_s]
        if len({round(n.start, 3) for n in inside}) >= 4:
            shifted = [Note(n.family, n.pitch, n.velocity, n.start - t, n.end - t) for n in inside]
            values.append(pulse_clarity(shifted))
        t += hop_s
    return float(np.mean(values)) if values else 0.0


def on_grid_share(onset_beats: Sequence[float], resolution: int = 12, tolerance: float = 0.02) -> float:
    """Share of onsets (in beats) within `tolerance` beats of the 1/resolution-beat grid."""
    b = np.asarray(onset_beats, dtype=np.float64)
    if not b.size:
        return float("nan")
    off = np.abs(b * resolution - np.round(b * resolution)) / resolution
    return float((off <= tolerance).mean())


def change_hit_share(changes_s: Sequence[float], times_s: Sequence[float], tolerance_s: float = 0.25) -> float:
    """Share of `times_s` with an analysed chord change within the tolerance."""
    if not len(times_s):
        return float("nan")
    c = np.asarray(changes_s, dtype=np.float64)
    if not c.size:
        return 0.0
    return float(np.mean([np.abs(c - t).min() <= tolerance_s for t in times_s]))


def hit_errors(changes_s: Sequence[float], cuts_s: Sequence[float], window_s: float = 1.0) -> list[float]:
    """|nearest analysed chord change - cut| for the cuts with a change within `window_s`."""
    c = np.asarray(changes_s, dtype=np.float64)
    if not c.size:
        return []
    d = [float(np.abs(c - t).min()) for t in cuts_s]
    return [x for x in d if x <= window_s]


def harmony_at_cuts(notes: Sequence[Note], cuts_s: Sequence[float], duration_s: float,
                    rng: np.random.Generator) -> dict:
    """Audible harmony change at the cuts (by chord analysis of the notes) vs at as many random times."""
    changes = chord_changes_from_notes(notes)
    random_times = rng.uniform(1.0, max(duration_s - 1.0, 1.5), size=len(cuts_s))
    return {
        "cut_hit": change_hit_share(changes, cuts_s),
        "random_hit": change_hit_share(changes, random_times),
        "errors": hit_errors(changes, cuts_s),
        "changes_per_s": len(changes) / duration_s,
    }


def audio_measures(audio: np.ndarray, sample_rate: int) -> dict:
    """Peak, clipped samples (|x| >= 1), integrated loudness and the energy share below 200 Hz."""
    import pyloudnorm as pyln

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    spectrum = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / sample_rate)
    total = spectrum.sum()
    meter = pyln.Meter(sample_rate)
    loud = meter.integrated_loudness(audio) if len(audio) >= meter.block_size * sample_rate else float("nan")
    return {
        "peak": float(np.max(np.abs(audio))) if audio.size else 0.0,
        "clipped_samples": int(np.count_nonzero(np.abs(audio) >= 1.0)),
        "lufs": float(loud),
        "low_energy_share": float(spectrum[freqs < 200].sum() / total) if total > 0 else 0.0,
    }
