"""Chord progressions (and melodies) from real music, in key-relative form, for the v2 corpus.

Three sources from music21's bundled corpus (no download):
- RomanText analyses (`.rntxt`): the analyst's chords, read as they are.
- Bach chorales: each half bar's notes fitted to the best chord template (duration-weighted, bass
  counted double). The chorale's own notes are kept too (the "v1-score" share plays them as they are).
- Folk tunes (ABC): the melody is kept, and a Viterbi harmoniser fits diatonic triads and sevenths to
  each bar (or half bar) of it, with a functional-harmony transition prior.

A progression is a list of bars of one or two chords (the second starts half way through the bar), so
it can be laid on a groove of any meter; chords are (interval above the tonic, quality).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from emsync_models.music.corpus.layout import QUALITY_INTERVALS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelChord:
    root: int  # semitones above the tonic
    quality: str


@dataclass(frozen=True)
class RelNote:
    onset_beat: float  # quarter beats from the first full bar
    duration_beats: float
    pitch: int  # MIDI pitch with the tonic moved to C (60 = tonic near middle C)


@dataclass(frozen=True)
class Progression:
    source: str  # "romantext" | "chorale" | "folk"
    item: str  # corpus path (plus tune number): the split is keyed on it
    mode: str  # "major" | "minor"
    beats_per_bar: int  # the source's bar, in quarter beats (melody and score notes use it)
    bars: tuple[tuple[RelChord, ...], ...]
    melody: tuple[RelNote, ...] = ()  # folk tunes: the tune; chorales: every voice (the score itself)

    def to_json(self) -> dict:
        return {
            "source": self.source, "item": self.item, "mode": self.mode, "beats_per_bar": self.beats_per_bar,
            "bars": [[[c.root, c.quality] for c in bar] for bar in self.bars],
            "melody": [[n.onset_beat, n.duration_beats, n.pitch] for n in self.melody],
        }

    @staticmethod
    def from_json(d: dict) -> Progression:
        return Progression(
            d["source"], d["item"], d["mode"], int(d["beats_per_bar"]),
            tuple(tuple(RelChord(int(r), str(q)) for r, q in bar) for bar in d["bars"]),
            tuple(RelNote(float(o), float(u), int(p)) for o, u, p in d["melody"]),
        )


# ---- chord fitting -------------------------------------------------------------------------------

_FIT_QUALITIES = ("maj", "min", "7", "m7", "maj7", "dim", "m7b5", "dim7")
# Triads are the plain reading; a seventh must earn its extra note.
_QUALITY_PRIOR = {"maj": 0.06, "min": 0.06, "7": 0.02, "m7": 0.0, "maj7": 0.0, "dim": -0.02, "m7b5": -0.02,
                  "dim7": -0.03}


def _template_bank() -> tuple[np.ndarray, list[tuple[int, str]]]:
    rows, labels = [], []
    for q in _FIT_QUALITIES:
        for root in range(12):
            t = np.zeros(12)
            t[[(root + i) % 12 for i in QUALITY_INTERVALS[q]]] = 1.0
            t[root] += 0.3
            rows.append(t / np.linalg.norm(t))
            labels.append((root, q))
    return np.stack(rows), labels


_BANK, _BANK_LABELS = _template_bank()
_BANK_PRIOR = np.array([_QUALITY_PRIOR[q] for _, q in _BANK_LABELS])


def fit_chord(profile: np.ndarray) -> tuple[int, str] | None:
    """(root pc, quality) best matching a 12-bin pitch-class profile; None for silence."""
    norm = float(np.linalg.norm(profile))
    if norm < 1e-9:
        return None
    scores = _BANK @ (profile / norm) + _BANK_PRIOR
    return _BANK_LABELS[int(scores.argmax())]


def quality_of(root_pc: int, pitch_classes: set[int]) -> str:
    """The chart quality whose pitch set best matches `pitch_classes` above `root_pc`."""
    rel = {(p - root_pc) % 12 for p in pitch_classes}
    best, best_score = "maj", -99.0
    for q, iv in QUALITY_INTERVALS.items():
        s = len(rel & set(iv)) - len(rel ^ set(iv)) * 0.6
        if s > best_score:
            best, best_score = q, s
    return best


def _slot_profiles(notes: list[tuple[float, float, int]], n_slots: int, slot_len: float) -> np.ndarray:
    """Duration-weighted pitch-class profile per slot (bass of each slot doubled)."""
    prof = np.zeros((n_slots, 12))
    lowest = np.full(n_slots, 999)
    for onset, dur, pitch in notes:
        s0, s1 = int(onset // slot_len), int(np.ceil((onset + dur) / slot_len - 1e-9))
        for s in range(max(s0, 0), min(s1, n_slots)):
            overlap = min(onset + dur, (s + 1) * slot_len) - max(onset, s * slot_len)
            if overlap > 0:
                prof[s, pitch % 12] += overlap
                lowest[s] = min(lowest[s], pitch)
    for s in range(n_slots):
        if lowest[s] < 999:
            prof[s, lowest[s] % 12] += slot_len * 0.5
    return prof


def _bars_from_slots(slots: list[RelChord | None], per_bar: int) -> tuple[tuple[RelChord, ...], ...]:
    bars: list[tuple[RelChord, ...]] = []
    prev: RelChord | None = None
    for b in range(0, len(slots) - per_bar + 1, per_bar):
        chords: list[RelChord] = []
        for c in slots[b : b + per_bar]:
            c = c or prev  # a silent slot keeps the chord before it
            if c is not None and (not chords or chords[-1] != c):
                chords.append(c)
            prev = c or prev
        if chords:
            bars.append(tuple(chords[:2]))
    return tuple(bars)


# ---- sources -------------------------------------------------------------------------------------

def _key_of_score(score: object) -> tuple[int, str]:
    k = score.analyze("key")  # type: ignore[attr-defined]
    return int(k.tonic.pitchClass), "minor" if k.mode == "minor" else "major"


def _bar_length(score: object) -> float:
    from music21 import meter

    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)  # type: ignore[attr-defined]
    return float(ts.barDuration.quarterLength) if ts is not None else 4.0


def _full_bar_notes(part: object, bar_len: float) -> tuple[list[tuple[float, float, int]], int]:
    """(onset, duration, pitch) on a grid of full bars from the first downbeat (a pickup is dropped),
    and the number of full bars. Split bars (3 + 1 beats around a repeat or fermata) keep the grid."""
    measures = list(part.getElementsByClass("Measure"))  # type: ignore[attr-defined]
    first = float(measures[0].duration.quarterLength) if measures else bar_len
    pickup = first if first < bar_len - 1e-6 else 0.0
    flat = part.flatten()  # type: ignore[attr-defined]
    notes: list[tuple[float, float, int]] = []
    for el in flat.notes:
        ql, onset = float(el.quarterLength), float(el.offset) - pickup
        if ql <= 0 or onset < 0:
            continue
        for p in el.pitches:
            notes.append((onset, ql, int(p.midi)))
    n_bars = int((float(flat.highestTime) - pickup + 1e-6) // bar_len)
    return notes, n_bars


def chorale_progression(path: str) -> Progression | None:
    """A Bach chorale's harmony, half bar by half bar, plus all its notes (tonic moved to C4)."""
    from music21 import converter

    score = converter.parse(path)
    bar_len = _bar_length(score)
    if bar_len != int(bar_len) or int(bar_len) not in (2, 3, 4):
        return None
    tonic, mode = _key_of_score(score)
    all_notes: list[tuple[float, float, int]] = []
    n_bars = 10**9
    for part in score.parts:  # type: ignore[attr-defined]
        notes, bars = _full_bar_notes(part.stripTies(), bar_len)
        all_notes.extend(notes)
        n_bars = min(n_bars, bars)
    if not all_notes or n_bars < 4 or n_bars == 10**9:
        return None
    per_bar = 2 if int(bar_len) in (2, 4) else 1
    slot_len = bar_len / per_bar
    prof = _slot_profiles(all_notes, n_bars * per_bar, slot_len)
    slots = [None if (f := fit_chord(p)) is None else RelChord((f[0] - tonic) % 12, f[1]) for p in prof]
    melody = tuple(RelNote(o, d, p - tonic + (12 if tonic > 6 else 0)) for o, d, p in sorted(all_notes)
                   if o < n_bars * bar_len)
    return Progression("chorale", path, mode, int(bar_len), _bars_from_slots(slots, per_bar), melody)


def romantext_progression(path: str) -> Progression | None:
    """An analyst's Roman numerals: the chord sounding at each bar's start and half-way point."""
    from music21 import converter, roman

    score = converter.parse(path, format="romanText")
    rns = list(score.recurse().getElementsByClass(roman.RomanNumeral))
    if len(rns) < 8:
        return None
    bar_len = _bar_length(score)
    first_key = rns[0].key
    tonic, mode = int(first_key.tonic.pitchClass), "minor" if first_key.mode == "minor" else "major"
    timeline = []
    for rn in rns:
        try:
            root = int(rn.root().pitchClass)
            pcs = {int(p.pitchClass) for p in rn.pitches}
        except Exception:  # an unrealisable numeral: leave it out
            continue
        timeline.append((float(rn.getOffsetInHierarchy(score)), RelChord((root - tonic) % 12, quality_of(root, pcs))))
    if not timeline:
        return None
    end = timeline[-1][0] + 1.0
    first_bar = np.floor(timeline[0][0] / bar_len) * bar_len
    n_bars = int(np.ceil((end - first_bar) / bar_len))
    per_bar = 1 if int(bar_len) in (3, 5) else 2
    slot_len = bar_len / per_bar
    onsets = np.array([t for t, _ in timeline])
    slots: list[RelChord | None] = []
    for s in range(n_bars * per_bar):
        i = int(np.searchsorted(onsets, first_bar + s * slot_len + 1e-6, side="right")) - 1
        slots.append(timeline[max(i, 0)][1])
    return Progression("romantext", path, mode, int(round(bar_len)), _bars_from_slots(slots, per_bar))


# Folk harmoniser: diatonic chords per mode as (root interval, quality), and a transition prior.
_DIATONIC = {
    "major": [(0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "maj"), (9, "min"), (7, "7"), (2, "m7")],
    "minor": [(0, "min"), (5, "min"), (7, "maj"), (7, "7"), (3, "maj"), (8, "maj"), (10, "maj"), (2, "dim")],
}
# Log-prior bonus for root motions (in semitones up): falling fifths and stepwise moves are common.
_MOTION_BONUS = {0: 0.6, 5: 0.5, 7: 0.3, 2: 0.2, 10: 0.2, 9: 0.1, 3: 0.0, 4: -0.1, 8: 0.0, 1: -0.5, 11: -0.3, 6: -0.8}


def harmonise(melody: list[tuple[float, float, int]], mode: str, n_slots: int, slot_len: float) -> list[RelChord]:
    """Viterbi over slots: chord tones of the melody score, a functional prior links the chords.

    The melody is tonic-relative (pitch % 12 == 0 is the tonic). The first and last slots favour the
    tonic chord, as a harmoniser at a piano would.
    """
    cands = _DIATONIC[mode]
    n = len(cands)
    emit = np.zeros((n_slots, n))
    for onset, dur, pitch in melody:
        s = int(onset // slot_len)
        if not 0 <= s < n_slots:
            continue
        strong = 1.5 if abs(onset - s * slot_len) < 1e-6 else 1.0
        w = min(dur, slot_len) * strong
        for j, (root, q) in enumerate(cands):
            tones = {(root + i) % 12 for i in QUALITY_INTERVALS[q]}
            emit[s, j] += w if pitch % 12 in tones else -0.7 * w
    # a seventh chord needs its seventh in the tune
    for j, (_, q) in enumerate(cands):
        if q in ("7", "m7"):
            emit[:, j] -= 0.15
    trans = np.array([[_MOTION_BONUS[(b[0] - a[0]) % 12] for b in cands] for a in cands])
    trans[np.arange(n), np.arange(n)] = 0.25  # holding a chord is common, but a tune moves its harmony
    score = emit[0] + np.where(np.arange(n) == 0, 1.0, 0.0)
    back = np.zeros((n_slots, n), dtype=np.int64)
    for s in range(1, n_slots):
        total = score[:, None] + trans
        back[s] = total.argmax(axis=0)
        score = total.max(axis=0) + emit[s]
    score = score + np.where(np.arange(n) == 0, 1.5, 0.0)  # end on the tonic
    path = [int(score.argmax())]
    for s in range(n_slots - 1, 0, -1):
        path.append(int(back[s, path[-1]]))
    return [RelChord(*cands[j]) for j in reversed(path)]


def folk_progressions(path: str, max_tunes: int | None = None) -> list[Progression]:
    """Tunes of one ABC file (an opus), each harmonised, melody kept (tonic moved to C)."""
    from music21 import converter, stream

    parsed = converter.parse(path)
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    out: list[Progression] = []
    for i, score in enumerate(scores[:max_tunes] if max_tunes else scores):
        try:
            prog = folk_tune(score, f"{path}#{i}")
        except Exception as exc:  # one odd tune should not cost the file's others
            log.debug("skipping %s#%d: %s", path, i, exc)
            continue
        if prog is not None:
            out.append(prog)
    return out


def folk_tune(score: object, item: str) -> Progression | None:
    bar_len = _bar_length(score)
    if bar_len not in (2.0, 3.0, 4.0, 1.5):
        return None
    parts = list(score.parts) if score.parts else [score]  # type: ignore[attr-defined]
    notes, n_bars = _full_bar_notes(parts[0].stripTies(), bar_len)
    if n_bars < 8 or len(notes) < 16:
        return None
    if bar_len == 1.5:  # 3/8: two bars make one bar of 3 quarter beats
        bar_len, n_bars = 3.0, n_bars // 2
    elif bar_len == 2.0:  # 2/4: two bars make one 4-beat bar
        bar_len, n_bars = 4.0, n_bars // 2
    tonic, mode = _key_of_score(score)
    rel = [(o, d, p - tonic) for o, d, p in notes if o < n_bars * bar_len]
    per_bar = 2 if bar_len == 4.0 else 1
    slots = harmonise(rel, mode, n_bars * per_bar, bar_len / per_bar)
    # Lead range: centre the tune around the octave above middle C.
    mean = float(np.mean([p for _, _, p in rel]))
    shift = int(round((72 - mean) / 12.0)) * 12
    melody = tuple(RelNote(o, d, p + shift) for o, d, p in rel)
    return Progression("folk", item, mode, int(bar_len), _bars_from_slots(list(slots), per_bar), melody)


# Parallel mode: the same progression and tune with the modal degrees flipped (major I-ii-iii-IV-V-vi
# <-> harmonic minor i-ii(o)-III-iv-V-VI), so every source can be heard in both modes.
_TO_MINOR = {(0, "maj"): (0, "min"), (0, "maj7"): (0, "min"), (2, "min"): (2, "dim"), (2, "m7"): (2, "m7b5"),
             (4, "min"): (3, "maj"), (4, "m7"): (3, "maj7"), (5, "maj"): (5, "min"), (5, "maj7"): (5, "m7"),
             (9, "min"): (8, "maj"), (9, "m7"): (8, "maj7"), (11, "dim"): (11, "dim7")}
_TO_MAJOR = {(0, "min"): (0, "maj"), (0, "m7"): (0, "maj7"), (2, "dim"): (2, "min"), (2, "m7b5"): (2, "m7"),
             (3, "maj"): (4, "min"), (3, "maj7"): (4, "m7"), (5, "min"): (5, "maj"), (5, "m7"): (5, "maj7"),
             (8, "maj"): (9, "min"), (8, "maj7"): (9, "m7"), (10, "maj"): (7, "maj"), (10, "7"): (7, "7")}
_MELODY_TO_MINOR = {4: -1, 9: -1}  # E -> Eb, A -> Ab (B stays: the harmonic minor's leading tone)
_MELODY_TO_MAJOR = {3: 1, 8: 1, 10: 1}


def parallel_mode(prog: Progression) -> Progression:
    """The progression (and melody) in the other mode, tonic kept."""
    to_minor = prog.mode == "major"
    table = _TO_MINOR if to_minor else _TO_MAJOR
    shift = _MELODY_TO_MINOR if to_minor else _MELODY_TO_MAJOR
    bars = tuple(tuple(RelChord(*table.get((c.root, c.quality), (c.root, c.quality))) for c in bar)
                 for bar in prog.bars)
    melody = prog.melody if prog.source != "folk" else tuple(
        RelNote(n.onset_beat, n.duration_beats, n.pitch + shift.get(n.pitch % 12, 0)) for n in prog.melody)
    return Progression(prog.source, prog.item, "minor" if to_minor else "major", prog.beats_per_bar, bars, melody)
