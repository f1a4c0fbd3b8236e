"""The comping part under v2's chords: the written chord on the beat, voice-led, never silent, never
adding a pitch class the chord lacks."""

from __future__ import annotations

import pytest

from emsync_models.music.analysis.measures import silence_share
from emsync_models.music.notes import midi_notes
from emsync_models.music.request import GenerationRequest
from emsync_models.music.v2.comping import HIGH, LOW, comp_notes, lead, voicings

C_MAJOR, F_MAJOR, G7 = (0, 4, 7), (5, 9, 0), (7, 11, 2, 5)


def test_voicings_are_close_position_chords_in_the_register():
    for pcs in (C_MAJOR, F_MAJOR, G7):
        options = voicings(pcs)
        assert options
        for v in options:
            assert {p % 12 for p in v} == set(pcs)
            assert LOW <= v[0] and v[-1] < HIGH
            assert v[-1] - v[0] < 12  # close position: inside an octave


def test_voice_leading_moves_little():
    c = lead(None, voicings(C_MAJOR))
    f = lead(c, voicings(F_MAJOR))
    assert sum(min(abs(p - q) for q in c) for p in f) <= 3  # C-E-G to C-F-A moves two voices by 1-2


def test_a_strike_on_each_beat_and_on_each_change_held_to_the_next():
    notes = comp_notes([(0.0, C_MAJOR), (2.5, F_MAJOR), (4.0, G7)], end_beat=6.0)
    starts = sorted({n[0] for n in notes})
    assert starts == [0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0]
    for start, stop, pitch, _ in notes:
        chord = C_MAJOR if start < 2.5 else F_MAJOR if start < 4.0 else G7
        assert pitch % 12 in chord  # nothing the chord lacks
        assert stop <= 6.0
    # legato: from the first strike to the end there is always a chord sounding, bar a breath
    spans = sorted((n[0], n[1]) for n in notes)
    reach = 0.0
    for start, stop in spans:
        assert start - reach <= 0.051
        reach = max(reach, stop)
    assert reach >= 5.9


def test_every_second_beat_and_no_chord_rests():
    notes = comp_notes([(0.0, C_MAJOR), (4.0, ())], end_beat=8.0, every=2)
    assert sorted({n[0] for n in notes}) == [0.0, 2.0]


@pytest.mark.slow
@pytest.mark.parametrize("valence,arousal", [(0.0, 0.0), (0.0, -0.8)])
def test_generated_music_keeps_sounding(v2_generator, valence: float, arousal: float):
    """The calm and the middle cells fell silent a third of the time between staccato notes (0.30 in the
    (0, 0) cell) before the comp; the issue allows 10 %."""
    music = v2_generator.generate(GenerationRequest(30.0, (4.112, 8.283, 13.943, 20.759), ((0.0, valence, arousal),),
                                                 seed=0))
    notes = [n for n in midi_notes(music.midi) if n.start < 30.0]
    assert silence_share(notes, 30.0) <= 0.10
