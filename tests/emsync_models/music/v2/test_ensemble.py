"""A part that plays in a section plays through it: long rests hold the harmony, strays go."""

from __future__ import annotations

import symusic

from emsync_models.music.v2.ensemble import HOLD_AFTER_BARS, hold_through, nearest_tone, rests, sounding_spans

TPB = 8
BAR = 4 * TPB


def _track(name: str, program: int, notes: list[tuple[int, int, int]]) -> symusic.Track:
    track = symusic.Track(name, program)
    for start, length, pitch in notes:
        track.notes.append(symusic.Note(start, length, pitch, 80))
    return track


def test_spans_and_rests() -> None:
    notes = [symusic.Note(0, 10, 60, 80), symusic.Note(5, 10, 64, 80), symusic.Note(40, 8, 67, 80)]
    assert sounding_spans(notes) == [(0, 15), (40, 48)]
    assert rests([(0, 15), (40, 48)], 100, 20) == [(15, 40), (48, 100)]
    assert rests([(30, 40)], 100, 40) == [(40, 100)]  # the 30 ticks before the first note are too short


def test_nearest_tone_keeps_the_register() -> None:
    assert nearest_tone([0, 4, 7], 66) == 67
    assert nearest_tone([2, 5, 9], 60) == 62


def test_a_part_that_stops_holds_the_chords_to_the_section_end() -> None:
    end_bars = 12
    strings = _track("", 48, [(0, BAR, 64), (BAR, BAR, 65)])  # plays 2 bars, then stops
    theme = _track("theme", 73, [(k * TPB, TPB, 76) for k in range(16)])  # its 4 bars, then stops
    bass = _track("bass", 33, [(0, BAR, 36)])
    score = symusic.Score(TPB)
    score.tracks.extend([strings, theme, bass])
    changes = [(0.0, (0, "maj")), (16.0, (9, "min")), (32.0, (7, "7"))]
    added = hold_through(score, changes, end_bars * 4.0, TPB, left_alone=lambda t: t.program in range(32, 40))
    assert added > 0
    for track in (score.tracks[0], score.tracks[1]):
        spans = sounding_spans(list(track.notes))
        assert spans[-1][1] == end_bars * BAR  # it sounds to the section's end
        assert all(b - a < HOLD_AFTER_BARS * BAR for a, b in rests(spans, end_bars * BAR, 1))
        held = [n for n in track.notes if n.time >= 4 * BAR]
        for n in held:  # each held note is a tone of the chord sounding, near the part's register
            chord = {0: {0, 4, 7}, 16: {9, 0, 4}, 32: {7, 11, 2, 5}}[max(k for k in (0, 16, 32) if k * TPB <= n.time)]
            assert n.pitch % 12 in chord
            assert abs(n.pitch - (64 if track.program == 48 else 76)) <= 6
            assert n.velocity < 80
    # the strings' E is a tone of A minor too: held over that change, but struck again after two bars;
    # it moves to F for the G7
    assert [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes if n.time >= 2 * BAR] == \
        [(2 * BAR, 2 * BAR, 64), (4 * BAR, 4 * BAR, 64), (8 * BAR, 4 * BAR, 65)]
    assert len(score.tracks[2].notes) == 1  # the bass is left alone


def test_a_stray_part_goes_and_a_breathing_part_is_left_as_it_is() -> None:
    stray = _track("", 61, [(0, TPB, 60)])  # one beat in twelve bars
    breathing = _track("", 40, [(k * 2 * BAR, BAR, 72) for k in range(6)])  # a bar on, a bar off
    score = symusic.Score(TPB)
    score.tracks.extend([stray, breathing])
    before = [(n.time, n.duration, n.pitch) for n in breathing.notes]
    hold_through(score, [(0.0, (0, "maj"))], 12 * 4.0, TPB)
    assert len(score.tracks[0].notes) == 0
    assert [(n.time, n.duration, n.pitch) for n in score.tracks[1].notes] == before


def test_a_common_tone_is_tied_over_a_change() -> None:
    strings = _track("", 48, [(0, BAR, 64)])  # one bar, then five of rest
    score = symusic.Score(TPB)
    score.tracks.append(strings)
    hold_through(score, [(0.0, (0, "maj")), (6.0, (9, "min")), (12.0, (7, "7"))], 6 * 4.0, TPB)
    held = [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes][1:]
    assert held == [(BAR, 2 * BAR, 64), (3 * BAR, 3 * BAR, 65)]


def test_the_final_chords_instrument_joins_at_the_closing_sections_start() -> None:
    from emsync_models.music.v2.arranger import ENDING_PROGRAM
    from emsync_models.music.v2.ensemble import ending_joins

    piano = _track("", 0, [(k * TPB, TPB, 72) for k in range(40)])  # no sustaining part
    score = symusic.Score(TPB)
    score.tracks.append(piano)
    changes = [(0.0, (9, "min")), (16.0, (5, "maj"))]
    ending_joins(score, changes, TPB)
    hold_through(score, changes, 10 * 4.0, TPB)
    strings = [t for t in score.tracks if t.program == ENDING_PROGRAM]
    assert len(strings) == 1 and strings[0].notes[0].time == 0 and strings[0].notes[0].pitch == 60  # A minor's C
    assert sounding_spans(list(strings[0].notes)) == [(0, 10 * BAR)]  # it holds through the section
    held = symusic.Score(TPB)
    held.tracks.append(_track("", 48, [(0, 10 * BAR, 64)]))  # a sustaining part of its own: nothing joins
    ending_joins(held, changes, TPB)
    assert len(held.tracks) == 1 and len(held.tracks[0].notes) == 1


def test_a_resting_part_holds_the_keys_tonic_where_the_chord_has_it() -> None:
    strings = _track("", 48, [(0, BAR, 64)])  # one bar, then eleven of rest, around E4
    score = symusic.Score(TPB)
    score.tracks.append(strings)
    changes = [(0.0, (0, "maj")), (16.0, (9, "min")), (24.0, (7, "7")), (32.0, (5, "maj"))]
    hold_through(score, changes, 12 * 4.0, TPB, pedals=(0,))
    held = [(n.time // BAR, n.pitch) for n in score.tracks[0].notes][1:]
    # C under C major, struck again under A minor (it had been held three bars), the G7's tone nearest
    # E4 (F4: the G7 has no C), C again under F major
    assert held == [(1, 60), (4, 60), (6, 65), (8, 60)]
