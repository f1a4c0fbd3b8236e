"""Property tests of the hit-point tempo map."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync_models.music.boundaries import merge_boundaries
from emsync_models.music.v2.hitpoints import BASE_SPAN, TempoMap, base_tempo, section_bars, tempo_map

cut_lists = st.lists(st.floats(0.05, 59.9, allow_nan=False), max_size=12)
arousals = st.floats(-1.0, 1.0)


def test_base_tempo_rises_with_arousal() -> None:
    tempos = [base_tempo(a) for a in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    assert tempos == sorted(tempos) and tempos[0] < tempos[-1]
    assert base_tempo(5.0) == base_tempo(1.0)


def _is_downbeat(tm: TempoMap, beat: int) -> bool:
    return tm.grid().beat_in_bar(beat) == 0


@settings(max_examples=300, deadline=None)
@given(cut_lists, arousals)
def test_every_merged_cut_is_hit_exactly_on_a_downbeat_within_bounds(cuts: list[float], arousal: float) -> None:
    # every gap (the first one from 0 too) at least 4 s
    kept = [c for c in merge_boundaries(cuts, 4.0, 60.0) if c >= 4.0]
    tm = tempo_map(kept, 60.0, base_tempo(arousal))
    assert [h.cut_s for h in tm.hits] == kept
    for hit in tm.hits:
        # 4 s gaps hold at least one beat within +-12 % at >= 66 BPM, so no residual is needed
        assert hit.residual_s == pytest.approx(0.0, abs=1e-9)
        assert tm.time_of(hit.beat) == pytest.approx(hit.cut_s, abs=1e-9)
        assert hit.downbeat and _is_downbeat(tm, hit.beat)
    assert tm.max_relative_change() <= 0.12 + 1e-9
    assert abs(tm.base_bpm / tm.requested_bpm - 1.0) <= BASE_SPAN + 1e-9
    # bars are 4/4, with 2/4 or 3/4 bars only right before a hit
    grid, hit_beats = tm.grid(), {h.beat for h in tm.hits}
    for bar in range(len(tm.bar_starts) + 2):
        if grid.length(bar) != 4:
            assert grid.length(bar) in (2, 3)
            following = grid.start(bar + 1)
            assert following in hit_beats or grid.start(bar + 2) in hit_beats


@settings(max_examples=300, deadline=None)
@given(cut_lists, arousals)
def test_each_gap_takes_the_beat_count_nearest_the_base_tempo(cuts: list[float], arousal: float) -> None:
    """Fitting beats, not bars: each gap's tempo is within half a beat of the base tempo's count, so a
    gap of n beats bends the tempo by at most 1/(2n) (a bar-fitting map bent it by up to 12 %)."""
    kept = [c for c in merge_boundaries(cuts, 4.0, 60.0) if c >= 4.0]
    tm = tempo_map(kept, 60.0, base_tempo(arousal))
    previous_s, previous_beat = 0.0, 0
    for hit in tm.hits:
        nominal = (hit.cut_s - previous_s) * tm.base_bpm / 60.0
        assert abs((hit.beat - previous_beat) - nominal) <= 0.5 + 1e-9
        previous_s, previous_beat = hit.cut_s, hit.beat


@settings(max_examples=200, deadline=None)
@given(cut_lists, arousals)
def test_moving_the_base_tempo_never_makes_the_steps_larger(cuts: list[float], arousal: float) -> None:
    kept = merge_boundaries(cuts, 4.0, 60.0)
    fixed = tempo_map(kept, 60.0, base_tempo(arousal), base_span=0.0)
    moved = tempo_map(kept, 60.0, base_tempo(arousal))
    assert fixed.base_bpm == base_tempo(arousal)
    fixed_residuals = sum(abs(h.residual_s) > 1e-9 for h in fixed.hits)
    moved_residuals = sum(abs(h.residual_s) > 1e-9 for h in moved.hits)
    assert moved_residuals < fixed_residuals or (
        moved_residuals == fixed_residuals and moved.max_relative_change() <= fixed.max_relative_change() + 0.005)


def test_section_bars_end_on_the_hit() -> None:
    assert section_bars(8, 4) == [4, 4]
    assert section_bars(10, 4) == [4, 4, 2]
    assert section_bars(11, 4) == [4, 4, 3]
    assert section_bars(9, 4) == [4, 3, 2]  # one beat over: 3/4 + 2/4, never a bar of one beat
    assert section_bars(3, 4) == [3] and section_bars(1, 4) == [1]


@settings(max_examples=300, deadline=None)
@given(cut_lists, arousals)
def test_unbounded_cuts_take_the_nearest_beat_and_report_the_residual(cuts: list[float], arousal: float) -> None:
    # no thinning: cuts may be 50 ms apart, where no beat fits the bound
    tm = tempo_map(cuts, 60.0, base_tempo(arousal))
    beats = [h.beat for h in tm.hits]
    assert beats == sorted(set(beats))  # strictly increasing: each hit gets its own beat
    assert tm.max_relative_change() <= 0.12 + 1e-9
    for hit in tm.hits:
        assert tm.time_of(hit.beat) == pytest.approx(hit.time_s, abs=1e-9)
        if abs(hit.residual_s) > 1e-9:
            assert abs(hit.residual_s) <= 60.0 / tm.base_bpm * 1.5


@settings(max_examples=200, deadline=None)
@given(cut_lists, arousals, st.floats(0.0, 60.0))
def test_time_and_beat_are_inverse_and_monotone(cuts: list[float], arousal: float, t: float) -> None:
    tm = tempo_map(merge_boundaries(cuts, 4.0, 60.0), 60.0, base_tempo(arousal))
    assert tm.time_of(tm.beat_of(t)) == pytest.approx(t, abs=1e-9)
    assert tm.beat_of(t + 0.5) > tm.beat_of(t)


def test_worked_example_and_report() -> None:
    cuts = [6.3, 13.1, 19.7, 24.0]
    fixed = tempo_map(cuts, 30.0, 120.0, base_span=0.0)
    # 6.3 s at 120 BPM is 12.6 beats: 13 (a bar of 3/4 and one of 2/4 before the hit), 123.8 BPM
    assert [h.beat for h in fixed.hits] == [13, 27, 40, 49]
    assert fixed.bar_starts[:4] == (0, 4, 8, 11) and fixed.grid().start(3) == 11
    assert fixed.max_relative_change() == pytest.approx(24 / 516, abs=1e-9)  # 9 beats in 4.3 s: 125.6 BPM
    moved = tempo_map(cuts, 30.0, 120.0)
    # at 125.4 BPM every gap is within 1.5 % of a whole number of beats
    assert moved.base_bpm == pytest.approx(125.4) and moved.max_relative_change() < 0.015
    assert all(h.downbeat and _is_downbeat(moved, h.beat) for h in moved.hits)
    report = moved.to_dict()
    assert [h["cut_s"] for h in report["hits"]] == cuts
    assert report["tempo_changes"][0]["beat"] == 0 and report["requested_bpm"] == 120.0
    assert {"beat": 11, "beats": 2} in report["meter_changes"]


def test_bad_tempo_is_refused() -> None:
    with pytest.raises(ValueError, match="base_bpm"):
        tempo_map([1.0], 10.0, 0.0)
