"""Descriptors that put a music corpus (or generated music) beside real scores, and the chart check.

`music_descriptors(notes)` measures one piece in seconds; `describe_corpus` averages it over pieces;
the generator v2 evaluation reuses both, so its numbers and the corpus table are the same measurements.
`chart_agreement` checks a corpus piece's chord labels against an independent analysis of its notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from emsync_models.music.analysis.chords import NO_CHORD, analyse_chords, chord_changes_from_notes
from emsync_models.music.analysis.descriptors import pitch_class_entropy, polyphony
from emsync_models.music.corpus.layout import QUALITY_INTERVALS, PieceLabels
from emsync_models.music.notes import Note

HOP_S = 0.05
SIMPLE_RATIOS = (1.0, 2.0, 0.5, 3.0, 1 / 3, 4.0, 0.25, 1.5, 2 / 3)
RATIO_TOLERANCE = 0.05  # relative


@dataclass(frozen=True)
class MusicDescriptors:
    notes_per_s: float  # pitched note onsets per second of the piece
    polyphony: float  # mean pitched notes sounding, where any sound
    pitch_class_entropy_bits: float
    chord_changes_per_s: float  # analysed (chords.analyse_chords), the same for every corpus
    pulse_share: float  # successive inter-onset intervals (all notes, drums too) in a simple ratio
    silence_share: float  # share of the piece with no note sounding (drums count as sound)
    semitone_clash_share: float  # share of sounding time with two pitch classes a semitone apart

    def to_dict(self) -> dict:
        return asdict(self)


def _frames(notes: Sequence[Note], duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(any note sounding per frame, 12-bit pitch-class mask per frame of pitched notes)."""
    n = int(np.ceil(duration_s / HOP_S)) + 1
    sounding = np.zeros(n, dtype=bool)
    pcs = np.zeros((n, 12), dtype=bool)
    for note in notes:
        a = int(note.start / HOP_S)
        b = max(int(note.end / HOP_S), a + 1)
        sounding[a:b] = True
        if note.family != 0:
            pcs[a:b, note.pitch % 12] = True
    return sounding, pcs


def pulse_share(notes: Sequence[Note]) -> float:
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


def music_descriptors(notes: Sequence[Note], duration_s: float | None = None) -> MusicDescriptors:
    """Descriptors of one piece (drums are family 0 and count only for pulse and silence)."""
    if not notes:
        return MusicDescriptors(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    dur = float(duration_s if duration_s else max(n.end for n in notes))
    pitched = [n for n in notes if n.family != 0]
    sounding, pcs = _frames(notes, dur)
    frames = int(np.ceil(dur / HOP_S))
    sounding, pcs = sounding[:frames], pcs[:frames]
    clash = pcs & np.roll(pcs, 1, axis=1)  # pc k and k-1 together (wraps B-C)
    voiced = pcs.any(axis=1)
    changes = chord_changes_from_notes(pitched) if pitched else []
    return MusicDescriptors(
        notes_per_s=len(pitched) / max(dur, 1e-3),
        polyphony=polyphony(pitched),
        pitch_class_entropy_bits=pitch_class_entropy(pitched),
        chord_changes_per_s=len(changes) / max(dur, 1e-3),
        pulse_share=pulse_share(notes),
        silence_share=float(1.0 - sounding.mean()) if frames else 1.0,
        semitone_clash_share=float(clash.any(axis=1)[voiced].mean()) if voiced.any() else 0.0,
    )


def describe_corpus(pieces: Sequence[Sequence[Note]], durations: Sequence[float] | None = None) -> dict[str, float]:
    """Means (and `_std`) of the descriptors over pieces; `pieces` counts them."""
    rows = [music_descriptors(p, durations[i] if durations else None).to_dict() for i, p in enumerate(pieces)]
    out: dict[str, float] = {"pieces": float(len(rows))}
    if not rows:
        return out
    for key in rows[0]:
        values = np.array([r[key] for r in rows], dtype=np.float64)
        out[key] = float(values.mean())
        out[key + "_std"] = float(values.std())
    return out


def _triad_pcs(label: str) -> set[int] | None:
    from emsync_models.music.analysis.chords import CHORD_NAMES

    if label == NO_CHORD:
        return None
    index = CHORD_NAMES.index(label)
    root, minor = index % 12, index >= 12
    return {root, (root + (3 if minor else 4)) % 12, (root + 7) % 12}


@dataclass(frozen=True)
class ChartAgreement:
    spans: int  # chart chords that a major/minor triad analysis can judge
    agreeing: int
    unjudged: int  # dim / dim7 / sus4 / aug chords (no major or minor triad inside them)

    @property
    def share(self) -> float:
        return self.agreeing / self.spans if self.spans else float("nan")


def chart_agreement(labels: PieceLabels, notes: Sequence[Note]) -> ChartAgreement:
    """Does each chart chord match what an independent analysis hears in that span?

    The analysis (`chords.analyse_chords`: triad templates + Viterbi over the notes, no access to the
    chart) labels the music in seconds; a chart chord agrees when the triad heard for most of its span
    lies inside the chord's pitch classes (C major inside C7; E-flat minor inside Cm7b5).
    """
    pitched = [n for n in notes if n.family != 0]
    segments = analyse_chords(pitched)
    agreeing = spans = unjudged = 0
    for chord in labels.chords:
        pcs = {(chord.root_pc + i) % 12 for i in QUALITY_INTERVALS[chord.quality]}
        if chord.quality in ("dim", "dim7", "sus4", "aug"):  # no major or minor triad inside them
            unjudged += 1
            continue
        t0 = labels.beat_to_seconds(chord.onset_beat)
        t1 = labels.beat_to_seconds(chord.onset_beat + chord.duration_beats)
        weights: dict[str, float] = {}
        for seg in segments:
            overlap = min(seg.end, t1) - max(seg.start, t0)
            if overlap > 0:
                weights[seg.label] = weights.get(seg.label, 0.0) + overlap
        spans += 1
        if weights:
            heard = _triad_pcs(max(weights, key=weights.get))  # type: ignore[arg-type]
            agreeing += int(heard is not None and heard <= pcs)
    return ChartAgreement(spans, agreeing, unjudged)
