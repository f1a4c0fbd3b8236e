"""Finish an MMA render into a corpus piece: check its grid, vary its instruments, add the melody.

Works on symusic `Score`s (tick time, one quarter = one MMA beat). The checks turn a render that does
not match its chart (wrong length, wrong tempo) into an error, which the build records as a failed piece.
"""

from __future__ import annotations

import numpy as np
import symusic

from emsync_models.music.corpus.layout import PieceLabels

# GM programs per LPD-5 family (vocab.family_of's ranges), the ones that sound right in an arrangement.
FAMILY_PROGRAMS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 2, 4, 5, 6, 7, 8, 11, 12, 16, 17, 18, 19),
    "guitar": (24, 25, 26, 27, 28, 29, 30),
    "bass": (32, 33, 34, 35, 36, 37, 38, 39),
    "strings": (40, 41, 42, 44, 45, 46, 48, 49, 50, 51, 52, 53, 54, 56, 57, 58, 60, 61, 64, 65, 66, 68, 69, 70,
                71, 73, 74, 75, 80, 81, 82, 88, 89, 90, 91, 94, 95),
}
LEAD_PROGRAMS = (73, 65, 40, 56, 0, 11, 80, 71, 68, 22, 25, 81, 66, 74)
KEEP_PROGRAM_P = 0.4  # share of tracks that keep MMA's own voice


def family_name(program: int) -> str:
    if program < 24:
        return "piano"
    if program < 32:
        return "guitar"
    if program < 40:
        return "bass"
    return "strings"


def check_render(score: symusic.Score, labels: PieceLabels) -> None:
    """Raise ValueError when the render does not follow its chart's grid and tempo map."""
    tpq = score.ticks_per_quarter
    end_tick = labels.n_bars * labels.beats_per_bar * tpq
    onsets = [n.time for t in score.tracks for n in t.notes]
    if not onsets:
        raise ValueError("mma wrote no notes")
    if max(onsets) >= end_tick:
        raise ValueError(f"notes start after the chart's last bar (tick {max(onsets)} >= {end_tick})")
    if min(onsets) >= labels.beats_per_bar * tpq * 2:
        raise ValueError("the first two bars are silent")
    expected = {(round(p.beat * tpq), round(p.bpm)) for p in labels.tempo_map}
    found = {(t.time, round(t.qpm)) for t in score.tempos}
    if not expected <= found:
        raise ValueError(f"tempo map {sorted(found)} lacks the chart's {sorted(expected)}")


def _track_key(track: symusic.Track) -> tuple:
    first = (int(track.notes[0].time), int(track.notes[0].pitch)) if len(track.notes) else (-1, -1)
    return (bool(track.is_drum), str(track.name), int(track.program), len(track.notes), first)


def vary_programs(score: symusic.Score, rng: np.random.Generator) -> None:
    """Give each pitched track another GM voice from its own family (drums stay).

    Tracks are first put in a canonical order: MMA numbers them by first use in its run, and a piece
    must come out the same whether it was rendered alone or in a batch.
    """
    score.tracks.sort(key=_track_key)
    for track in score.tracks:
        if track.is_drum or rng.random() < KEEP_PROGRAM_P:
            continue
        choices = FAMILY_PROGRAMS[family_name(int(track.program))]
        track.program = int(choices[int(rng.integers(len(choices)))])


def add_melody(score: symusic.Score, melody: tuple[tuple[float, float, int], ...], rng: np.random.Generator) -> int:
    """Append the lead line as its own track; returns its GM program."""
    tpq = score.ticks_per_quarter
    program = int(LEAD_PROGRAMS[int(rng.integers(len(LEAD_PROGRAMS)))])
    track = symusic.Track(name="melody", program=program, is_drum=False)
    base = int(rng.integers(84, 104))
    for onset, dur, pitch in melody:
        if not 21 <= pitch <= 108:
            continue
        accent = 8 if abs(onset - round(onset)) < 1e-6 else 0  # on-beat notes a little louder
        velocity = int(np.clip(base + accent + rng.normal(0, 4), 40, 127))
        track.notes.append(symusic.Note(int(round(onset * tpq)), max(int(round(dur * tpq * 0.95)), 1), int(pitch),
                                        velocity))
    score.tracks.append(track)
    return program


def piece_notes_seconds(score: symusic.Score) -> list[tuple[bool, int, int, float, float]]:
    """(is_drum, program, pitch, start s, end s) of every note."""
    sec = score.to("second")
    out: list[tuple[bool, int, int, float, float]] = []
    for t in sec.tracks:
        for n in t.notes:
            out.append((bool(t.is_drum), int(t.program), int(n.pitch), float(n.time), float(n.time + n.duration)))
    return out


# MidiTok 3.1.0 REMI (programs in one stream, tempos, time signatures, no chords/rests), counted
# without encoding: 4 tokens a note (Program, Pitch|PitchDrum, Velocity, Duration), one Position per
# distinct onset at 8 positions a beat, Bar + TimeSig per bar up to the last onset, one Tempo per
# tempo change. Encoding costs ~0.15 CPU-s a piece (half the build); the build checks this count
# against MidiTok's encoder on a sample of pieces and the tests on every test piece.
REMI_POSITIONS_PER_BEAT = 8
PITCH_RANGE = (21, 109)
DRUM_PITCH_RANGE = (27, 88)


def remi_token_count(score: symusic.Score) -> int:
    tpq = score.ticks_per_quarter
    onsets: list[int] = []
    for track in score.tracks:
        lo, hi = DRUM_PITCH_RANGE if track.is_drum else PITCH_RANGE
        onsets.extend(int(n.time) for n in track.notes if lo <= n.pitch < hi)
    if not onsets:
        return 0
    q = np.round(np.asarray(onsets, dtype=np.float64) * REMI_POSITIONS_PER_BEAT / tpq).astype(np.int64)
    ts = score.time_signatures[0] if len(score.time_signatures) else None
    bar_positions = (ts.numerator * 4 // ts.denominator if ts else 4) * REMI_POSITIONS_PER_BEAT
    if ts and (ts.numerator * 4) % ts.denominator:
        bar_positions = ts.numerator * 4 * REMI_POSITIONS_PER_BEAT // ts.denominator
    bars = int(q.max() // bar_positions) + 1
    qpms = [round(float(t.qpm)) for t in score.tempos] or [0]
    tempos = 1 + sum(a != b for a, b in zip(qpms, qpms[1:], strict=False))
    return 4 * len(onsets) + len(np.unique(q)) + 2 * bars + tempos
