"""The beat-grid vocabulary: encode/decode round trips (property tests) and chart chords as tokens."""

from __future__ import annotations

import symusic
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync_models.music.v2.remi import (
    CHORD_TOKENS,
    QUALITIES,
    RESOLUTION,
    TICKS_PER_BEAT,
    BeatTokenizer,
    ChartChord,
    splice_chords,
)

TOK = BeatTokenizer()
STEP = TICKS_PER_BEAT // RESOLUTION  # ticks per grid step
# velocities MidiTok keeps exactly (its 16 bins) and durations its vocabulary holds exactly
VELOCITIES = sorted(int(n.split("_")[1]) for n in TOK.vocab if n.startswith("Velocity_"))
DURATION_STEPS = [1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 48, 60, 72, 96]

notes = st.lists(
    st.tuples(
        st.sampled_from([0, 24, 33, 48, 73, -1]),  # programs, -1 = drums
        st.integers(0, 16 * RESOLUTION - 1),  # onset step (4 bars)
        st.sampled_from(DURATION_STEPS),
        st.integers(36, 84),
        st.sampled_from(VELOCITIES),
    ),
    min_size=1,
    max_size=60,
)


def _score(spec: list[tuple[int, int, int, int, int]]) -> symusic.Score:
    score = symusic.Score(TICKS_PER_BEAT)
    tracks: dict[int, symusic.Track] = {}
    for program, onset, dur, pitch, vel in spec:
        if program not in tracks:
            tracks[program] = symusic.Track(str(program), max(program, 0), program == -1)
        tracks[program].notes.append(symusic.Note(onset * STEP, dur * STEP, pitch, vel))
    score.tracks.extend(tracks.values())
    return score


def _note_set(score: symusic.Score) -> set[tuple[int, bool, int, int, int, int]]:
    out = set()
    for t in score.tracks:
        for n in t.notes:
            out.add((-1 if t.is_drum else t.program, t.is_drum, n.time, n.duration if not t.is_drum else 0, n.pitch,
                     n.velocity))
    return out


@settings(max_examples=25, deadline=None)
@given(notes)
def test_grid_notes_round_trip_exactly(spec: list) -> None:
    score = _score(spec)
    back = TOK.decode(TOK.encode(score))
    # Drum durations are not kept exactly by MidiTok (hits): compare their onsets, pitches, velocities.
    assert _note_set(back) == _note_set(score)


@settings(max_examples=25, deadline=None)
@given(notes, st.lists(st.tuples(st.integers(0, 15), st.integers(0, 11), st.sampled_from(QUALITIES)), max_size=12))
def test_chart_chords_come_back_with_their_beats(spec: list, chords: list) -> None:
    score = _score(spec)
    chart = sorted(ChartChord(float(b), r, q) for b, r, q in chords)
    ids = TOK.encode(score, chart)
    got = TOK.chords(ids)
    # expected: one chord per beat (the later wins), repeats of the sounding chord dropped, and only
    # within the bars the music covers
    last_bar = max(o for _, o, _, _, _ in spec) // (4 * RESOLUTION)
    by_beat: dict[float, ChartChord] = {}
    for c in chart:
        by_beat[c.beat] = c
    expected, sounding = [], None
    for beat in sorted(by_beat):
        c = by_beat[beat]
        if c.name != sounding:
            expected.append(c)
            sounding = c.name
    n_bars = sum(1 for i in ids if i == TOK.bar)
    expected = [c for c in expected if c.beat // 4 < n_bars]
    assert [(c.beat, c.root, c.quality) for c in got] == [(c.beat, c.root, c.quality) for c in expected]
    assert n_bars == last_bar + 1  # MidiTok writes every bar up to the last note's start
    # the notes are untouched by the chord tokens
    assert _note_set(TOK.decode(ids)) == _note_set(TOK.decode(TOK.encode(score)))


def test_vocabulary_is_printable_and_holds_every_chart_chord() -> None:
    assert "533 tokens" in repr(TOK) or str(len(TOK)) in repr(TOK)
    assert len(CHORD_TOKENS) == 12 * len(QUALITIES) + 1
    assert all(name in TOK.vocab for name in CHORD_TOKENS)
    assert TOK.vocab["Position_47"]  # 4/4 at 12 steps per beat: triplets and sixteenths


def test_splice_adds_a_position_where_no_note_starts() -> None:
    tokens = ["Bar_None", "Position_0", "Pitch_60", "Velocity_63", "Duration_4.0.4"]
    out = splice_chords(tokens, [ChartChord(0, 0, "maj"), ChartChord(2, 5, "maj")])
    assert out == ["Bar_None", "Position_0", "Chord_C:maj", "Pitch_60", "Velocity_63", "Duration_4.0.4",
                   "Position_24", "Chord_F:maj"]
