"""The arranger's parts on a hand-made score: bass on a bass, hits accented, final chord sustained."""

from __future__ import annotations

import symusic

from emsync_models.music.gm_instruments import BASS_PROGRAMS, SUSTAINING, in_range
from emsync_models.music.v2.arranger import (
    CRASH,
    accent_hits,
    add_bass_line,
    bass_pitch,
    fit_ranges,
    keep_above_bass,
    ring_final_chord,
)
from emsync_models.music.v2.remi import TICKS_PER_BEAT


def _score(programs: tuple[int, ...] = (30,), drums: bool = True) -> symusic.Score:
    score = symusic.Score(TICKS_PER_BEAT)
    for program in programs:
        track = symusic.Track(f"p{program}", program)
        for beat in range(16):
            track.notes.append(symusic.Note(beat * TICKS_PER_BEAT, TICKS_PER_BEAT, 64, 70))
        score.tracks.append(track)
    if drums:
        kit = symusic.Track("drums", 0, True)
        kit.notes.extend(symusic.Note(b * TICKS_PER_BEAT, 60, 42, 60) for b in range(16))
        score.tracks.append(kit)
    return score


def test_the_bass_line_goes_to_a_bass_in_its_register_for_any_key() -> None:
    score = _score()
    changes = [(0.0, (0, "maj")), (8.0, (5, "maj")), (12.0, (7, "7"))]
    track = add_bass_line(score, changes, 16.0, [(8.0, 9.0, 5)], key_shift=3, slow=True)
    assert int(track.program) in BASS_PROGRAMS
    starts = sorted(n.time // TICKS_PER_BEAT for n in track.notes)
    assert starts == [0, 4, 8, 9, 12]  # each chord and each downbeat; the cut's statement, then on
    for shift in range(-5, 7):
        for root in range(12):
            assert 31 <= bass_pitch(root, shift) + shift <= 42 and (bass_pitch(root, shift) - root) % 12 == 0


def test_the_models_own_bass_keeps_its_notes_except_where_a_cut_is_stated() -> None:
    score = _score((34,))
    model_bass = score.tracks[0]
    add_bass_line(score, [(0.0, (0, "maj")), (8.0, (5, "maj"))], 16.0, [(8.0, 9.0, 5)], key_shift=0, slow=False)
    assert len([t for t in score.tracks if not t.is_drum]) == 1  # no second bass
    at_cut = [n for n in model_bass.notes if n.time == 8 * TICKS_PER_BEAT]
    assert len(at_cut) == 1 and at_cut[0].pitch == bass_pitch(5, 0)  # the cut's root, alone


def test_hits_are_louder_and_crashed_where_there_are_drums() -> None:
    score = _score()
    accent_hits(score, [8.0])
    pitched = score.tracks[0].notes
    assert all(n.velocity >= 94 for n in pitched if n.time == 8 * TICKS_PER_BEAT)
    assert all(n.velocity == 70 for n in pitched if n.time != 8 * TICKS_PER_BEAT)
    assert any(n.pitch == CRASH and n.time == 8 * TICKS_PER_BEAT for n in score.tracks[-1].notes)
    calm = _score(drums=False)
    accent_hits(calm, [8.0])
    assert len(calm.tracks) == 1  # no drum kit brought in for a piece that has none


def test_the_final_chord_rings_on_a_sustaining_instrument_and_ranges_are_kept() -> None:
    score = _score((30, 0))
    ring_final_chord(score, 12.0, 16.0, 0, "min", key_shift=0, slow=True)
    end = 12 * TICKS_PER_BEAT
    ringing = [t for t in score.tracks if not t.is_drum and any(n.time == end and n.duration >= 4 * TICKS_PER_BEAT
                                                                  for n in t.notes)]
    assert {int(t.program) in SUSTAINING or int(t.program) in BASS_PROGRAMS for t in ringing} == {True}
    assert any(int(t.program) in SUSTAINING for t in ringing)
    low = score.tracks[0]
    low.notes.append(symusic.Note(0, 10, 31, 60))  # a distortion guitar's G1
    fit_ranges(score)
    assert all(in_range(int(t.program), n.pitch) for t in score.tracks if not t.is_drum for n in t.notes)


def test_a_staccato_model_bass_has_its_rests_filled() -> None:
    """A model bass that plays a quarter-beat note per bar leaves the comp as the lowest voice most of
    the time; the arranger fills its rests of a beat or more with the chord's root."""
    score = symusic.Score(TICKS_PER_BEAT)
    bass = symusic.Track("model bass", 33)
    bass.notes.extend(symusic.Note(b * 4 * TICKS_PER_BEAT, TICKS_PER_BEAT // 4, 40, 80) for b in range(4))
    score.tracks.append(bass)
    add_bass_line(score, [(0.0, (0, "maj"))], 16.0, [], key_shift=0, slow=False)
    ours = [n for n in bass.notes if n.pitch == bass_pitch(0, 0)]
    assert len(bass.notes) == 8 and len(ours) == 4
    sounding = sum(n.duration for n in bass.notes) / (16 * TICKS_PER_BEAT)
    assert sounding > 0.95


def test_nothing_is_struck_under_the_sounding_bass() -> None:
    score = symusic.Score(TICKS_PER_BEAT)
    bass = symusic.Track("bass", 33)
    bass.notes.append(symusic.Note(0, 4 * TICKS_PER_BEAT, 43, 70))  # G2 for a bar
    guitar = symusic.Track("guitar", 29)
    guitar.notes.extend([symusic.Note(0, TICKS_PER_BEAT, 40, 80),  # E2 under the bass: up to E3
                         symusic.Note(TICKS_PER_BEAT, TICKS_PER_BEAT, 55, 80),  # above: stays
                         symusic.Note(5 * TICKS_PER_BEAT, TICKS_PER_BEAT, 40, 80)])  # bass silent: stays
    score.tracks.extend([bass, guitar])
    assert keep_above_bass(score, score.tracks[0]) == 1
    assert [n.pitch for n in score.tracks[1].notes] == [52, 55, 40]
    assert all(in_range(29, n.pitch) for n in score.tracks[1].notes)
