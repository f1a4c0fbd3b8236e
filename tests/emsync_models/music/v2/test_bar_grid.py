"""The bar plan: 4/4 with short bars before hits, and the decoder and writer that follow it."""

from __future__ import annotations

import pytest

from emsync_models.music.v2.bar_grid import BarGrid
from emsync_models.music.v2.comping import comp_notes
from emsync_models.music.v2.remi import RESOLUTION, TICKS_PER_BEAT, BeatTokenizer
from emsync_models.music.v2.sample import SamplingV2, forced_plan, generate_v2

from .test_sample import _bar_loving_model

TOK = BeatTokenizer()
GRID = BarGrid((0, 4, 7, 9, 13))  # 4/4, 3/4, 2/4, then 4/4 from beat 9 on


def test_grid_starts_lengths_and_meter_changes() -> None:
    assert [GRID.start(b) for b in range(7)] == [0, 4, 7, 9, 13, 17, 21]
    assert [GRID.length(b) for b in range(5)] == [4, 3, 2, 4, 4]
    assert [GRID.bar_at(x) for x in (0, 3.9, 4, 6.99, 7, 8.5, 9, 16.9, 17, 30)] == [0, 0, 1, 1, 2, 2, 3, 4, 5, 8]
    assert GRID.meter_changes(6) == [(0, 4), (4, 3), (7, 2), (9, 4)]
    assert [GRID.beat_in_bar(x) for x in (0, 3, 4, 6.5, 7, 9, 18)] == [0, 3, 0, 2.5, 0, 0, 1]
    assert BarGrid().start(5) == 20 and BarGrid().bar_at(19.5) == 4


@pytest.mark.parametrize("starts", [(), (1, 4), (0, 4, 4), (0, 5, 3)])
def test_grid_refuses_starts_that_do_not_rise_from_zero(starts: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="bar starts"):
        BarGrid(starts)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generation_keeps_inside_short_bars_and_hits_their_downbeats(seed: int) -> None:
    model = _bar_loving_model(2.0)  # fewer bar lines than positions: it would run past a short bar's end
    tonic, dominant = TOK.vocab["Chord_C:maj"], TOK.vocab["Chord_G:7"]
    cuts = [7, 9]  # the downbeats after the 3/4 and the 2/4 bar
    forced = forced_plan(6, cuts, tonic, dominant, grid=GRID)
    assert [f.step for f in forced] == [0, 7 * RESOLUTION, 9 * RESOLUTION, 13 * RESOLUTION, 17 * RESOLUTION]
    trace = generate_v2(model, TOK, 6, lambda beat: (0.0, 0.0), forced, [7.0, 9.0], 0, seed=seed,
                        opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=2500, grid=GRID)
    written = dict(trace.chord_steps)
    assert all(step in written for step in (0, 7 * RESOLUTION, 9 * RESOLUTION))
    bar = -1
    for t in trace.tokens:
        bar += t == TOK.bar
        if TOK.position_of[t] >= 0:
            assert TOK.position_of[t] < GRID.length(bar) * RESOLUTION, (bar, int(TOK.position_of[t]))
    beats = [b for b, _ in TOK.timeline(trace.tokens, GRID)]
    assert beats == sorted(beats)
    # decoding puts each note where the grid starts its bar, not at 4 beats a bar
    plain, moved = TOK.decode(trace.tokens), TOK.decode(trace.tokens, GRID)
    bar_ticks = 4 * TICKS_PER_BEAT
    for a, b in zip(plain.tracks, moved.tracks, strict=True):
        for x, y in zip(a.notes, b.notes, strict=True):
            assert y.time - x.time == (GRID.start(x.time // bar_ticks) - 4 * (x.time // bar_ticks)) * TICKS_PER_BEAT
    for track in moved.tracks:  # every onset inside its bar of the grid
        for note in track.notes:
            bar = GRID.bar_at(note.time / TICKS_PER_BEAT)
            assert note.time < GRID.start(bar + 1) * TICKS_PER_BEAT


def test_forced_chords_follow_the_grid_without_hits() -> None:
    plan = forced_plan(3, [], TOK.vocab["Chord_C:maj"], TOK.vocab["Chord_G:7"], grid=BarGrid((0, 3)))
    assert [f.step for f in plan] == [0, 3 * RESOLUTION, 7 * RESOLUTION]


def test_comp_counts_strikes_from_each_bar_downbeat() -> None:
    c_major = [0, 4, 7]
    # half-bar strikes; after the 3/4 bar at beat 4 the next bar starts on beat 7, not 8
    notes = comp_notes([(0.0, c_major)], 13.0, every=2, grid=BarGrid((0, 4, 7, 9)))
    strikes = sorted({start for start, *_ in notes})
    assert strikes == [0.0, 2.0, 4.0, 6.0, 7.0, 9.0, 11.0]
    accented = sorted({start for start, _, _, vel in notes if vel > 50})
    assert accented == [0.0, 4.0, 7.0, 9.0]
