"""Chord labels and chord-change times from any MIDI, by template matching of pitch-class profiles.

The music is cut at its note onsets; each segment's duration-weighted pitch-class profile (bass notes
count extra) is matched against 24 major/minor triad templates, and a Viterbi pass with a switching
penalty picks the label sequence, so passing tones do not count as chord changes. Segments shorter than
`min_chord_s` are absorbed by their neighbour. The resulting change times place CHORD markers in the
training data, act as training boundaries and feed the boundary-alignment metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pretty_midi

from emsync_models.music.notes import Note, midi_notes

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
CHORD_NAMES: tuple[str, ...] = tuple(f"{p}:maj" for p in PITCH_NAMES) + tuple(f"{p}:min" for p in PITCH_NAMES)
NO_CHORD = "N"


def _templates() -> np.ndarray:
    rows = []
    for intervals in ((0, 4, 7), (0, 3, 7)):
        for root in range(12):
            t = np.zeros(12)
            t[[(root + i) % 12 for i in intervals]] = 1.0
            t[root] += 0.3  # the root is what tells a triad from its relatives (C:maj vs A:min)
            rows.append(t / np.linalg.norm(t))
    return np.stack(rows)


TEMPLATES = _templates()


@dataclass(frozen=True)
class ChordSegment:
    start: float
    end: float
    label: str


def _segments(notes: Sequence[Note], merge_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Segment edges (onset times) and each segment's pitch-class profile."""
    pitched = [n for n in notes if n.family != 0 and n.end > n.start]
    if not pitched:
        return np.zeros(0), np.zeros((0, 12))
    onsets = np.unique(np.round([n.start for n in pitched], 3))
    edges = [onsets[0]]
    for t in onsets[1:]:
        if t - edges[-1] >= merge_s:  # near-simultaneous attacks are one event
            edges.append(t)
    end = max(n.end for n in pitched)
    edges_arr = np.asarray(edges + [max(end, edges[-1] + merge_s)])
    profiles = np.zeros((len(edges_arr) - 1, 12))
    starts, ends = edges_arr[:-1], edges_arr[1:]
    lowest = np.full(len(starts), 999)
    for n in pitched:
        # only the segments a note overlaps: [first segment ending after its start, first starting at its end)
        i0 = int(np.searchsorted(ends, n.start, side="right"))
        i1 = int(np.searchsorted(starts, n.end, side="left"))
        if i1 <= i0:
            continue
        overlap = np.minimum(ends[i0:i1], n.end) - np.maximum(starts[i0:i1], n.start)
        profiles[i0:i1, n.pitch % 12] += np.clip(overlap, 0.0, None)
        lowest[i0:i1] = np.minimum(lowest[i0:i1], n.pitch)
    # Bass emphasis: the lowest sounding pitch of each segment counts double.
    sounding = lowest < 999
    profiles[np.flatnonzero(sounding), lowest[sounding] % 12] += (ends - starts)[sounding]
    return edges_arr, profiles


def analyse_chords(
    notes: Sequence[Note], switch_penalty: float = 0.2, min_chord_s: float = 0.4, merge_s: float = 0.03
) -> list[ChordSegment]:
    """Chord segments (start, end, label) covering the music; silent stretches are labelled 'N'."""
    edges, profiles = _segments(notes, merge_s)
    if len(edges) < 2:
        return []
    durations = np.diff(edges)
    norms = np.linalg.norm(profiles, axis=1)
    silent = norms < 1e-9
    sims = (profiles / np.where(silent, 1.0, norms)[:, None]) @ TEMPLATES.T  # (segments, 24)
    # Scores are similarity x seconds, so a long clear chord outweighs a brief passing sonority.
    scores = sims * np.maximum(durations, 0.05)[:, None]
    n_seg, n_lab = scores.shape
    best = scores[0].copy()
    back = np.zeros((n_seg, n_lab), dtype=np.int64)
    for i in range(1, n_seg):
        stay = best
        switch = best.max() - switch_penalty
        back[i] = np.where(stay >= switch, np.arange(n_lab), best.argmax())
        best = np.maximum(stay, switch) + scores[i]
    labels = np.zeros(n_seg, dtype=np.int64)
    labels[-1] = int(best.argmax())
    for i in range(n_seg - 1, 0, -1):
        labels[i - 1] = back[i, labels[i]]
    names = [NO_CHORD if silent[i] else CHORD_NAMES[labels[i]] for i in range(n_seg)]
    segments: list[ChordSegment] = []
    for i, name in enumerate(names):
        start, end = float(edges[i]), float(edges[i + 1])
        if segments and segments[-1].label == name:
            segments[-1] = ChordSegment(segments[-1].start, end, name)
        else:
            segments.append(ChordSegment(start, end, name))
    return _absorb_short(segments, min_chord_s)


def _absorb_short(segments: list[ChordSegment], min_chord_s: float) -> list[ChordSegment]:
    out: list[ChordSegment] = []
    for seg in segments:
        if out and (seg.end - seg.start < min_chord_s or seg.label == out[-1].label):
            out[-1] = ChordSegment(out[-1].start, seg.end, out[-1].label)
        elif out and out[-1].end - out[-1].start < min_chord_s and len(out) == 1:
            out[-1] = ChordSegment(out[-1].start, seg.end, seg.label)
        else:
            out.append(seg)
    return out


def chord_changes_from_notes(notes: Sequence[Note], **kwargs: float) -> list[float]:
    """Times (s) where one sounding chord gives way to a different one (the first chord is not a change)."""
    segments = analyse_chords(notes, **kwargs)
    return [
        round(seg.start, 6)
        for prev, seg in zip(segments, segments[1:], strict=False)
        if seg.label != NO_CHORD and seg.label != prev.label
    ]


def chord_labels(midi: pretty_midi.PrettyMIDI) -> list[ChordSegment]:
    """Chord segments of a MIDI file, e.g. [ChordSegment(0.0, 1.5, 'C:maj'), ...]."""
    return analyse_chords(midi_notes(midi))


def chord_change_times(midi: pretty_midi.PrettyMIDI) -> list[float]:
    """Chord-change times (s) of a MIDI file."""
    return chord_changes_from_notes(midi_notes(midi))
