"""The arranger's density by bar: crowded bars thinned to the scene's target, the comp set to fit."""

from __future__ import annotations

import symusic

from emsync_models.music.v2.bar_grid import FOUR_FOUR
from emsync_models.music.v2.texture import (
    CROWDED,
    WHOLE_CHORD,
    comp_level,
    comp_voices,
    target_density,
    thin_crowded_bars,
    voices_at,
)

TPB = 12  # ticks per beat in these tests


def _score(notes_per_bar: list[int], program: int = 0, name: str = "") -> symusic.Score:
    """One track with `notes_per_bar[b]` notes in bar b, spread over its sixteenths, a chord on each."""
    score = symusic.Score(TPB)
    track = symusic.Track(name, program)
    for bar, count in enumerate(notes_per_bar):
        for k in range(count):
            step = (k // 3) % 16
            track.notes.append(symusic.Note(bar * 4 * TPB + step * TPB // 4, TPB // 4, 60 + k % 3 * 4 + k // 48, 60))
    score.tracks.append(track)
    return score


def test_target_density_rises_with_arousal_inside_the_corpus_range():
    values = [target_density(a / 10) for a in range(-10, 11)]
    assert values == sorted(values) and values[0] < values[-1]
    assert 4.0 < target_density(-0.8) < 8.0 and 13.0 < target_density(0.8) < 18.0


def test_a_crowded_bar_is_thinned_to_its_cap_keeping_the_downbeat_top_and_the_kept_tracks():
    score = _score([90, 6])
    bass = symusic.Track("bass", 33)
    bass.notes.extend(symusic.Note(t * TPB, TPB, 36, 70) for t in range(4))
    score.tracks.append(bass)
    seconds = 2.0  # a 4/4 bar at 120 BPM
    top_before = max(n.pitch for n in score.tracks[0].notes if n.time == 0)
    removed = thin_crowded_bars(score, FOUR_FOUR, 2, TPB, lambda b: seconds, lambda b: 0.0,
                                keep=lambda t: t.name == "bass")
    cap = int(CROWDED * target_density(0.0) * seconds)
    first_bar = [n for t in score.tracks for n in t.notes if n.time < 4 * TPB]
    assert len(first_bar) == cap and removed == 94 - cap
    assert len(score.tracks[1].notes) == 4  # the bass is never thinned
    top_on_one = max(n.pitch for n in score.tracks[0].notes if n.time == 0)
    assert top_on_one == top_before  # the highest note of the downbeat stays
    assert len([n for n in score.tracks[0].notes if n.time >= 4 * TPB]) == 6  # a light bar is untouched


def test_the_comp_is_fuller_where_the_scene_is_excited_and_lighter_where_the_lines_are_busy():
    sparse = _score([4] * 8)
    moderate = _score([12] * 8)
    busy = _score([40] * 8)
    seconds = 2.4  # 100 BPM
    calm = comp_voices(moderate, FOUR_FOUR, 8, TPB, lambda b: seconds, lambda b: -0.9)
    excited = comp_voices(moderate, FOUR_FOUR, 8, TPB, lambda b: seconds, lambda b: 0.8)
    calm_sparse = comp_voices(sparse, FOUR_FOUR, 8, TPB, lambda b: seconds, lambda b: -0.9)
    crowded = comp_voices(busy, FOUR_FOUR, 8, TPB, lambda b: seconds, lambda b: 0.0)
    # under an excited scene: the whole chord on each beat, and eighths between where the lines leave room
    assert all(on == WHOLE_CHORD and off > 0 for on, off in excited)
    assert calm == [(1, 0)] * 8  # the same lines under a calm scene: one note a beat
    assert calm_sparse == [(WHOLE_CHORD, 0)] * 8  # a calm scene with little else playing keeps its chords
    assert crowded == [(1, 0)] * 8  # busy lines: one note a beat, the pulse kept
    voices = voices_at([(2, 0)] * 4 + [(4, 1)] * 4, FOUR_FOUR)
    offbeat = voices_at([(2, 0)] * 4 + [(4, 1)] * 4, FOUR_FOUR, part=1)
    assert voices(0.0) == 2 and voices(15.0) == 2 and voices(16.0) == 4
    assert offbeat(0.0) == 0 and offbeat(16.0) == 1


def test_an_excited_comp_drives_on_eighths_only_where_the_lines_leave_room():
    sparse = _score([4] * 8)
    busy = _score([30] * 8)
    seconds = 2.0  # 120 BPM
    sparse_excited = comp_voices(sparse, FOUR_FOUR, 8, TPB, lambda b: seconds, lambda b: 0.6)
    busy_excited = comp_voices(busy, FOUR_FOUR, 8, TPB, lambda b: seconds, lambda b: 0.6)
    sparse_neutral = comp_voices(sparse, FOUR_FOUR, 8, TPB, lambda b: seconds, lambda b: 0.0)
    assert all(off > 0 for _, off in sparse_excited)
    assert all(off == 0 for _, off in busy_excited)
    assert all(off == 0 for _, off in sparse_neutral)  # no driving eighths under a neutral scene


def test_the_comp_keeps_the_beat_with_its_upper_notes():
    from emsync_models.music.v2.comping import comp_notes
    full = comp_notes([(0.0, (0, 4, 7))], end_beat=4.0)
    light = comp_notes([(0.0, (0, 4, 7))], end_beat=4.0, voices=lambda beat: 1)
    assert sorted({n[0] for n in light}) == sorted({n[0] for n in full}) == [0.0, 1.0, 2.0, 3.0]
    assert len(light) == 4 and all(n[2] == max(f[2] for f in full if f[0] == n[0]) for n in light)
    driving = comp_notes([(0.0, (0, 4, 7)), (3.5, (5, 9, 0))], end_beat=4.0, offbeat=lambda beat: 2)
    onsets = sorted({n[0] for n in driving})
    assert onsets == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]  # no eighth where the next chord comes
    assert all(len([n for n in driving if n[0] == t]) == 2 for t in (0.5, 1.5, 2.5))
    assert all(n[1] <= min([t for t in onsets if t > n[0]] + [4.0]) for n in driving)  # each held to the next


def test_the_comp_is_louder_under_an_excited_scene():
    levels = [comp_level(a / 4) for a in range(-4, 5)]
    assert levels == sorted(levels) and levels[0] < levels[-1]
    assert all(1 <= v <= 127 for v in levels)
