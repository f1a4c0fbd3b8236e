"""The chart check: a corpus piece's chord labels against an independent analysis of its notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from emsync_models.music.analysis.chords import NO_CHORD, analyse_chords
from emsync_models.music.corpus.layout import QUALITY_INTERVALS, PieceLabels
from emsync_models.music.notes import Note


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
