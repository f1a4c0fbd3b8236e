"""Tokenizer: vocabulary layout and MIDI -> tokens -> MIDI round trips (hypothesis + a real corpus file)."""

from __future__ import annotations

import pretty_midi
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync_models.music.notes import FAMILIES, PITCH_HIGH, PITCH_LOW, Note, midi_notes, notes_to_midi
from emsync_models.music.v1.vocab import (
    CHORD,
    N_TIME_SHIFTS,
    QUANTUM_S,
    VOCAB_SIZE,
    EventTokenizer,
    token_name,
    velocity_bin,
)


def test_vocabulary_layout_is_printable_and_complete():
    tok = EventTokenizer()
    names = tok.vocab
    assert len(names) == len(tok) == VOCAB_SIZE == 4 + 125 + 8 + 2 * 5 * 88
    assert len(set(names)) == VOCAB_SIZE
    assert names[:4] == ["PAD", "START", "BAR", "CHORD"]
    assert "TIME_SHIFT_8ms" in names and "TIME_SHIFT_1000ms" in names
    assert "NOTE_ON_drums_36" in names and "NOTE_OFF_strings_108" in names


def test_long_gaps_chain_time_shifts():
    tok = EventTokenizer()
    notes = [Note(1, 60, 80, 0.0, 0.5), Note(1, 62, 80, 3.0, 3.5)]
    tokens = tok.encode(notes_to_midi(notes))
    names = [token_name(t) for t in tokens]
    # 0.5 s -> 3.0 s is 2.5 s: 1 s + 1 s + 0.5 s
    assert names.count("TIME_SHIFT_1000ms") == 2
    assert max(t for t in tokens if 4 <= t < 4 + N_TIME_SHIFTS) <= 4 + N_TIME_SHIFTS - 1


@st.composite
def note_sets(draw: st.DrawFn) -> list[Note]:
    """Notes that never overlap on the same (family, pitch) key, each at least one quantum long."""
    notes: list[Note] = []
    keys = draw(
        st.lists(
            st.tuples(st.integers(0, len(FAMILIES) - 1), st.integers(PITCH_LOW, PITCH_HIGH)),
            min_size=1, max_size=6, unique=True,
        )
    )
    for family, pitch in keys:
        t = draw(st.floats(0.0, 3.0))
        for _ in range(draw(st.integers(1, 4))):
            dur = draw(st.floats(QUANTUM_S * 1.5, 2.5))
            notes.append(Note(family, pitch, draw(st.integers(1, 127)), t, t + dur))
            t += dur + draw(st.floats(QUANTUM_S * 1.5, 1.5))
    return notes


@settings(max_examples=120, deadline=None)
@given(note_sets())
def test_round_trip_keeps_every_note(notes: list[Note]):
    tok = EventTokenizer()
    midi = notes_to_midi(notes)
    decoded = sorted(midi_notes(tok.decode(tok.encode(midi))), key=lambda n: (n.family, n.pitch, n.start))
    original = sorted(notes, key=lambda n: (n.family, n.pitch, n.start))
    assert len(decoded) == len(original)
    for a, b in zip(original, decoded, strict=True):
        assert (a.family, a.pitch) == (b.family, b.pitch)
        assert velocity_bin(a.velocity) == velocity_bin(b.velocity)
        assert abs(a.start - b.start) <= QUANTUM_S
        assert abs(a.end - b.end) <= QUANTUM_S


def test_decoded_midi_uses_lpd5_programs():
    tok = EventTokenizer()
    notes = [Note(f, 40 + f, 90, 0.1 * f, 0.1 * f + 0.3) for f in range(5)]
    midi = tok.decode(tok.encode(notes_to_midi(notes)))
    programs = {(i.name, i.program, i.is_drum) for i in midi.instruments}
    assert programs == {("drums", 0, True), ("piano", 0, False), ("guitar", 24, False), ("bass", 32, False),
                        ("strings", 48, False)}


def test_gm_programs_map_to_families_and_out_of_range_pitches_fold():
    midi = pretty_midi.PrettyMIDI()
    for program, pitch in ((5, 12), (27, 60), (33, 40), (73, 115)):
        inst = pretty_midi.Instrument(program=program)
        inst.notes.append(pretty_midi.Note(100, pitch, 0.0, 1.0))
        midi.instruments.append(inst)
    notes = sorted(midi_notes(midi), key=lambda n: n.family)
    assert [n.family for n in notes] == [1, 2, 3, 4]  # piano, guitar, bass, strings (flute -> strings)
    assert notes[0].pitch == 24 and notes[3].pitch == 103  # folded by octaves into the 88 keys


def test_chord_markers_encode_at_their_times():
    tok = EventTokenizer()
    midi = notes_to_midi([Note(1, 60, 80, 0.0, 2.0), Note(1, 65, 80, 2.0, 4.0)])
    tokens = tok.encode(midi, chord_times=[0.0, 2.0])
    assert tokens.count(CHORD) == 2
    assert tok.marker_times(tokens) == [0.0, 2.0]
    # a CHORD sits before the note-on at the same time, after the releases
    i = [j for j, t in enumerate(tokens) if t == CHORD][1]
    assert token_name(tokens[i - 1]).startswith("TIME_SHIFT") or token_name(tokens[i - 1]).startswith("NOTE_OFF")


def test_real_corpus_file_round_trips():
    from music21 import corpus

    from emsync_models.music.v1.corpus import score_to_piece

    piece = score_to_piece(str(corpus.getWork("bwv66.6")))
    assert piece is not None
    tok = EventTokenizer()
    decoded = midi_notes(tok.decode(tok.encode(notes_to_midi(piece.notes))))
    # unison voices on one instrument are one key: the tokenizer keeps one note per (key, onset)
    distinct = {(n.family, n.pitch, round(n.start / QUANTUM_S)) for n in piece.notes}
    assert len(decoded) == len(distinct)
    assert {n.family for n in decoded} == {n.family for n in piece.notes}
    assert abs(max(n.end for n in decoded) - piece.duration_s) <= QUANTUM_S
