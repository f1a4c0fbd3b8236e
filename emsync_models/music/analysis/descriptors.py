"""Symbolic music descriptors shared by the proxy labels and the metrics.

The same functions that turn training music into (valence, arousal) proxy labels measure generated
music, so "does the model follow the requested label" is asked in the label's own terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from emsync_models.music.analysis.chords import chord_changes_from_notes
from emsync_models.music.analysis.measures import pulse_share, semitone_clash_share, silence_share
from emsync_models.music.notes import Note

# Krumhansl-Kessler key profiles (probe-tone ratings), index 0 = tonic.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _rotations(profile: np.ndarray) -> np.ndarray:
    return np.stack([np.roll(profile, k) for k in range(12)])


_MAJOR_KEYS = _rotations(MAJOR_PROFILE)
_MINOR_KEYS = _rotations(MINOR_PROFILE)


def pitch_class_histogram(notes: Sequence[Note], weight_by_duration: bool = True) -> np.ndarray:
    """Pitch-class weights of the pitched notes (drums excluded)."""
    hist = np.zeros(12)
    for n in notes:
        if n.family != 0:
            hist[n.pitch % 12] += (n.end - n.start) if weight_by_duration else 1.0
    return hist


def _corr_rows(keys: np.ndarray, hist: np.ndarray) -> np.ndarray:
    k = keys - keys.mean(axis=1, keepdims=True)
    h = hist - hist.mean()
    denom = np.sqrt((k**2).sum(axis=1) * (h**2).sum()) + 1e-12
    return (k @ h) / denom


def mode_score(hist: np.ndarray) -> float:
    """Best major-key correlation minus best minor-key correlation (Krumhansl-Schmuckler), in [-2, 2].

    Positive = major, negative = minor; the magnitude is how clearly. 0 for silence.
    """
    if hist.sum() <= 0:
        return 0.0
    return float(_corr_rows(_MAJOR_KEYS, hist).max() - _corr_rows(_MINOR_KEYS, hist).max())


def key_of(hist: np.ndarray) -> tuple[int, str, float]:
    """(tonic pitch class, 'major'|'minor', correlation) of the best-matching key."""
    major, minor = _corr_rows(_MAJOR_KEYS, hist), _corr_rows(_MINOR_KEYS, hist)
    if major.max() >= minor.max():
        return int(major.argmax()), "major", float(major.max())
    return int(minor.argmax()), "minor", float(minor.max())


def note_density(notes: Sequence[Note], duration_s: float | None = None) -> float:
    """Pitched note onsets per second over the piece (or over `duration_s`)."""
    pitched = [n for n in notes if n.family != 0]
    if not pitched:
        return 0.0
    span = duration_s if duration_s else max(n.end for n in pitched) - min(n.start for n in pitched)
    return len(pitched) / max(span, 1e-3)


def pitch_class_entropy(notes: Sequence[Note]) -> float:
    hist = pitch_class_histogram(notes)
    if hist.sum() <= 0:
        return 0.0
    p = hist / hist.sum()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def polyphony(notes: Sequence[Note], hop_s: float = 0.05) -> float:
    """Mean number of pitched notes sounding, over the frames where at least one sounds."""
    pitched = [n for n in notes if n.family != 0]
    if not pitched:
        return 0.0
    end = max(n.end for n in pitched)
    frames = np.zeros(int(end / hop_s) + 2)
    for n in pitched:
        frames[int(n.start / hop_s) : max(int(n.end / hop_s), int(n.start / hop_s) + 1)] += 1
    active = frames[frames > 0]
    return float(active.mean()) if active.size else 0.0


def inter_onset_intervals(notes: Sequence[Note]) -> np.ndarray:
    """Gaps (s) between successive distinct pitched onset times."""
    onsets = np.unique(np.round([n.start for n in notes if n.family != 0], 3))
    return np.diff(onsets) if onsets.size > 1 else np.zeros(0)


@dataclass(frozen=True)
class MusicDescriptors:
    """One piece beside real scores (the corpus datasheet's table); each field is one measure above or
    in `measures`, so the datasheet, the eval and the benchmarks read the same numbers."""

    notes_per_s: float  # note_density over the piece
    polyphony: float  # mean pitched notes sounding, where any sound
    pitch_class_entropy_bits: float
    chord_changes_per_s: float  # analysed (chords.analyse_chords), the same for every corpus
    pulse_share: float  # measures.pulse_share
    silence_share: float  # measures.silence_share with drums as sound
    semitone_clash_share: float  # measures.semitone_clash_share

    def to_dict(self) -> dict:
        return asdict(self)


def music_descriptors(notes: Sequence[Note], duration_s: float | None = None) -> MusicDescriptors:
    """Descriptors of one piece (drums are family 0 and count only for pulse and silence)."""
    if not notes:
        return MusicDescriptors(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    dur = float(duration_s if duration_s else max(n.end for n in notes))
    pitched = [n for n in notes if n.family != 0]
    changes = chord_changes_from_notes(pitched) if pitched else []
    return MusicDescriptors(
        notes_per_s=note_density(pitched, max(dur, 1e-3)),
        polyphony=polyphony(pitched),
        pitch_class_entropy_bits=pitch_class_entropy(pitched),
        chord_changes_per_s=len(changes) / max(dur, 1e-3),
        pulse_share=pulse_share(notes),
        silence_share=silence_share(notes, dur, drums_sound=True),
        semitone_clash_share=semitone_clash_share(notes, dur),
    )
