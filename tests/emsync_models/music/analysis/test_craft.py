"""The composer's measures on hand-written MIDI: accents, phrases, ranges, bass and final chord, opening."""

from __future__ import annotations

import pretty_midi
import pytest

from emsync_models.music.analysis.craft import (
    bar_meters,
    craft_measures,
    final_chord_fits,
    phrase_share,
)
from emsync_models.music.gm_instruments import GM_RANGES, in_range, into_range


def _piece(meters: list[int] | None = None, bass_program: int = 33, chord_program: int = 48) -> pretty_midi.PrettyMIDI:
    """120 BPM; bars of `meters` beats (default eight 4/4 bars); a chord on each downbeat, louder on
    beat 8 (a hit at 4.0 s) with a crash; a bass note under each downbeat."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    meters = meters or [4] * 8
    beat = 0
    for m in meters:
        if not midi.time_signature_changes or midi.time_signature_changes[-1].numerator != m:
            midi.time_signature_changes.append(pretty_midi.TimeSignature(m, 4, beat * 0.5))
        beat += m
    chords = pretty_midi.Instrument(chord_program)
    bass = pretty_midi.Instrument(bass_program)
    drums = pretty_midi.Instrument(0, is_drum=True)
    t = 0.0
    for m in meters:
        velocity = 110 if t == 4.0 else 70
        for p in (60, 64, 67):
            chords.notes.append(pretty_midi.Note(velocity, p, t, t + m * 0.5))
        bass.notes.append(pretty_midi.Note(velocity, 36, t, t + m * 0.5))
        if t == 4.0:
            drums.notes.append(pretty_midi.Note(110, 49, t, t + 0.5))
        t += m * 0.5
    midi.instruments += [chords, bass, drums]
    return midi


def test_hits_louder_than_other_downbeats_and_marked_by_a_cymbal() -> None:
    craft = craft_measures(_piece(), [4.0, 5.0], 16.0)
    assert craft["hit_velocity_gain"] == [40.0]  # 5.0 s is no onset: nothing to compare there
    assert craft["hit_accent_instrument"] == [True, False]


def test_phrases_count_whole_groups_of_four_4_4_bars() -> None:
    assert phrase_share([(4, 4)] * 8) == 1.0
    assert phrase_share([(4, 4)] * 3 + [(2, 4)] + [(4, 4)] * 4) == pytest.approx(4 / 8)
    assert phrase_share([(4, 4)] * 6) == pytest.approx(4 / 6)
    midi = _piece([4, 4, 4, 2, 4, 4, 4, 4])
    assert bar_meters(midi, 15.0)[3] == (2, 4)
    assert craft_measures(midi, [], 15.0)["phrase_share"] == pytest.approx(4 / 8)


def test_tempo_range_and_opening_silence_read_the_midi() -> None:
    midi = _piece()
    for n in midi.instruments[0].notes + midi.instruments[1].notes:
        n.start += 1.0
        n.end += 1.0
    craft = craft_measures(midi, [], 16.0)
    assert craft["tempo_min"] == pytest.approx(120.0) == craft["tempo_max"]
    assert craft["opening_silence_s"] == pytest.approx(1.0)


def test_bass_and_final_chord_instruments() -> None:
    assert craft_measures(_piece(), [], 16.0)["bass_fits"]
    assert craft_measures(_piece(), [], 16.0)["final_chord_fits"]
    distortion = craft_measures(_piece(bass_program=30), [], 16.0)
    assert not distortion["bass_fits"] and distortion["notes_out_of_range"] == 8  # C2 is below E2
    assert not craft_measures(_piece(chord_program=0), [], 16.0)["final_chord_fits"]  # a piano dies away
    assert not final_chord_fits([])


def test_every_program_has_a_range_of_at_least_an_octave_and_into_range_keeps_the_pitch_class() -> None:
    assert len(GM_RANGES) == 128 and all(hi - lo >= 12 for lo, hi in GM_RANGES)
    assert not in_range(34, 80) and into_range(34, 80) == 56  # a pick bass at G#5 comes down to G#3
    assert into_range(30, 31) == 43 and in_range(30, 43)  # a distortion guitar's G1 goes up to G2
    for program in range(128):
        for pitch in range(0, 128, 7):
            moved = into_range(program, pitch)
            assert in_range(program, moved) and (moved - pitch) % 12 == 0
