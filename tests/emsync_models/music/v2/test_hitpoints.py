"""Property tests of the hit-point tempo map."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync_models.music.boundaries import merge_boundaries
from emsync_models.music.v2.hitpoints import (
    BASE_SPAN,
    MAX_BPM,
    MIN_BPM,
    TempoMap,
    base_tempo,
    section_bars,
    tempo_map,
)

cut_lists = st.lists(st.floats(0.05, 59.9, allow_nan=False), max_size=12)
arousals = st.floats(-1.0, 1.0)


def test_base_tempo_rises_with_arousal() -> None:
    tempos = [base_tempo(a) for a in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    assert tempos == sorted(tempos) and tempos[0] < tempos[-1]
    assert base_tempo(5.0) == base_tempo(1.0)


def _is_downbeat(tm: TempoMap, beat: int) -> bool:
    return tm.grid().beat_in_bar(beat) == 0


def _is_strong(tm: TempoMap, beat: int) -> bool:
    return tm.grid().beat_in_bar(beat) in (0, 2)


@settings(max_examples=300, deadline=None)
@given(cut_lists, arousals)
def test_every_merged_cut_is_hit_exactly_on_a_strong_beat_within_bounds(cuts: list[float], arousal: float) -> None:
    # every gap (the first one from 0 too) at least 4 s
    kept = [c for c in merge_boundaries(cuts, 4.0, 60.0) if c >= 4.0]
    tm = tempo_map(kept, 60.0, base_tempo(arousal))
    assert [h.cut_s for h in tm.hits] == kept
    for hit in tm.hits:
        # 4 s gaps hold at least one beat within +-12 % at >= 66 BPM, so no residual is needed
        assert hit.residual_s == pytest.approx(0.0, abs=1e-9)
        assert tm.time_of(hit.beat) == pytest.approx(hit.cut_s, abs=1e-9)
        assert _is_strong(tm, hit.beat)
        assert hit.downbeat == _is_downbeat(tm, hit.beat)
    assert tm.max_relative_change() <= 0.12 + 1e-9
    assert abs(tm.base_bpm / tm.requested_bpm - 1.0) <= BASE_SPAN + 1e-9
    assert MIN_BPM - 1e-9 <= min(tm.bpm) and max(tm.bpm) <= MAX_BPM + 1e-9
    # bars are 4/4, with 2/4 or 3/4 bars only right before a hit
    grid, hit_beats = tm.grid(), {h.beat for h in tm.hits}
    for bar in range(len(tm.bar_starts) + 2):
        if grid.length(bar) != 4:
            assert grid.length(bar) in (2, 3)
            following = grid.start(bar + 1)
            assert following in hit_beats or grid.start(bar + 2) in hit_beats


@settings(max_examples=300, deadline=None)
@given(cut_lists, arousals)
def test_short_bars_only_where_no_strong_beat_fits(cuts: list[float], arousal: float) -> None:
    """Phrases first: a short bar before a cut only where neither a downbeat nor beat 3 of the running
    4/4 bars can take the cut within the tempo bound and range."""
    kept = [c for c in merge_boundaries(cuts, 4.0, 60.0) if c >= 4.0]
    tm = tempo_map(kept, 60.0, base_tempo(arousal))
    grid = tm.grid()
    previous_s, previous_beat = 0.0, 0
    lo, hi = max(tm.base_bpm * 0.88, MIN_BPM), min(tm.base_bpm * 1.12, MAX_BPM)
    for hit in tm.hits:
        if grid.length(grid.bar_at(hit.beat - 1)) != 4:
            gap = hit.cut_s - previous_s
            running = grid.start(grid.bar_at(previous_beat))  # 4/4 from the bar sounding at the last hit
            for k in range(1, 64):
                if lo - 1e-9 <= k * 60.0 / gap <= hi + 1e-9:
                    assert (previous_beat + k - running) % 4 not in (0, 2)
        previous_s, previous_beat = hit.cut_s, hit.beat


def test_tempo_stays_in_the_documented_range() -> None:
    assert base_tempo(1.0) == MAX_BPM
    for base in (base_tempo(1.0), 170.0):  # a caller asking for more gets the ceiling
        tm = tempo_map([5.3, 11.0, 16.2], 20.0, base)
        assert max(tm.bpm) <= MAX_BPM + 1e-9 and tm.base_bpm <= MAX_BPM


@settings(max_examples=200, deadline=None)
@given(cut_lists, arousals)
def test_moving_the_base_tempo_never_makes_the_map_worse(cuts: list[float], arousal: float) -> None:
    kept = merge_boundaries(cuts, 4.0, 60.0)
    fixed = tempo_map(kept, 60.0, base_tempo(arousal), base_span=0.0)
    moved = tempo_map(kept, 60.0, base_tempo(arousal))
    assert fixed.base_bpm == base_tempo(arousal)

    def cost(tm: TempoMap) -> tuple[int, int, float]:
        residuals = sum(abs(h.residual_s) > 1e-9 for h in tm.hits)
        short = sum(tm.grid().length(b) != 4 for b in range(len(tm.bar_starts) - 1))
        return residuals, short, tm.max_relative_change()

    (r0, s0, step0), (r1, s1, step1) = cost(fixed), cost(moved)
    # fewer residuals, else fewer short bars (phrases kept), else steps no larger (half-percent steps)
    assert (r1, s1) < (r0, s0) or ((r1, s1) == (r0, s0) and step1 <= step0 + 0.005)


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
    # 6.3 s at 120 BPM is 12.6 beats: 12 (three bars, 114.3 BPM) lands on a downbeat; 13 would need a
    # short bar. 13.1 s: 13.6 beats more; 14 lands on beat 3 (+2.9 %), 12 on a downbeat only at -11.8 %
    assert [(h.beat, h.downbeat) for h in fixed.hits] == [(12, True), (26, False), (40, True), (48, True)]
    assert fixed.bar_starts == tuple(range(0, 49, 4))  # no short bar: one 4/4 phrase after another
    assert fixed.bpm[0] == pytest.approx(12 * 60 / 6.3) and fixed.bpm[1] == pytest.approx(14 * 60 / 6.8)
    moved = tempo_map(cuts, 30.0, 120.0)
    # at 110.7 BPM every cut lands on a downbeat of running 4/4 bars with steps under 4.4 %
    assert moved.base_bpm == pytest.approx(110.7) and moved.max_relative_change() < 0.044
    assert all(h.downbeat and _is_downbeat(moved, h.beat) for h in moved.hits)
    report = moved.to_dict()
    assert [h["cut_s"] for h in report["hits"]] == cuts
    assert report["tempo_changes"][0]["beat"] == 0 and report["requested_bpm"] == 120.0
    assert report["meter_changes"] == [{"beat": 0, "beats": 4}]


def test_a_short_bar_where_no_strong_beat_fits() -> None:
    # 4.1 s at 66 BPM is 4.5 beats; within +-12 % only 4 (a downbeat, -10.8 %)... so bound it at 5 %:
    # 5 beats fit (beat 2 of bar 2), neither 4 nor 6 do, so a bar of... 4 + 1 = 3/4 + 2/4 before the hit
    tm = tempo_map([4.1], 10.0, 66.0, max_change=0.05, base_span=0.0)
    assert [h.beat for h in tm.hits] == [5] and tm.bar_starts == (0, 3, 5)
    assert tm.hits[0].downbeat


def test_bad_tempo_is_refused() -> None:
    with pytest.raises(ValueError, match="base_bpm"):
        tempo_map([1.0], 10.0, 0.0)
