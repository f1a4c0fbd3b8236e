"""Property tests of the hit-point tempo map."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync_models.music.boundaries import merge_boundaries
from emsync_models.music.hitpoints import base_tempo, tempo_map

cut_lists = st.lists(st.floats(0.05, 59.9, allow_nan=False), max_size=12)
arousals = st.floats(-1.0, 1.0)


def test_base_tempo_rises_with_arousal() -> None:
    tempos = [base_tempo(a) for a in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    assert tempos == sorted(tempos) and tempos[0] < tempos[-1]
    assert base_tempo(5.0) == base_tempo(1.0)


@settings(max_examples=300, deadline=None)
@given(cut_lists, arousals)
def test_every_merged_cut_is_hit_exactly_within_bounds(cuts: list[float], arousal: float) -> None:
    # every gap (the first one from 0 too) at least 4 s
    kept = [c for c in merge_boundaries(cuts, 4.0, 60.0) if c >= 4.0]
    tm = tempo_map(kept, 60.0, base_tempo(arousal))
    assert [h.cut_s for h in tm.hits] == kept
    for hit in tm.hits:
        # 4 s gaps hold at least one beat within +-12 % at >= 66 BPM, so no residual is needed
        assert hit.residual_s == pytest.approx(0.0, abs=1e-9)
        assert tm.time_of(hit.beat) == pytest.approx(hit.cut_s, abs=1e-9)
        assert hit.downbeat == (hit.beat % tm.beats_per_bar == 0)
    assert tm.max_relative_change() <= 0.12 + 1e-9


@settings(max_examples=300, deadline=None)
@given(cut_lists, arousals, st.integers(2, 4))
def test_downbeat_whenever_a_bar_fits_in_the_tempo_window(cuts: list[float], arousal: float, bpb: int) -> None:
    kept = merge_boundaries(cuts, 4.0, 60.0)
    bpm = base_tempo(arousal)
    tm = tempo_map(kept, 60.0, bpm, beats_per_bar=bpb)
    previous = 0.0
    for hit in tm.hits:
        window_beats = (hit.cut_s - previous) * bpm * 0.24 / 60.0
        if window_beats >= bpb:
            assert hit.downbeat
        previous = hit.cut_s


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
    tm = tempo_map([6.3, 13.1, 19.7, 24.0], 30.0, 120.0)
    assert [h.beat for h in tm.hits] == [12, 24, 36, 44]  # all downbeats, tempo 105.9..114.3 BPM
    assert all(h.downbeat for h in tm.hits)
    slow = tempo_map([6.3, 13.1, 19.7, 24.0], 30.0, 66.0)
    # 6.8 s at 66 BPM: beats 7 or 8 fit, no bar does; the half-bar's strong beat (14) wins over 15
    assert slow.hits[1].beat == 14 and not slow.hits[1].downbeat
    report = tm.to_dict()
    assert [h["cut_s"] for h in report["hits"]] == [6.3, 13.1, 19.7, 24.0]
    assert report["tempo_changes"][0]["beat"] == 0


def test_bad_tempo_is_refused() -> None:
    with pytest.raises(ValueError, match="base_bpm"):
        tempo_map([1.0], 10.0, 0.0)
