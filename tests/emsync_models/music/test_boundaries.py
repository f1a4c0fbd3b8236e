"""The 4-second rule every generator applies to a request's cuts."""

from __future__ import annotations

from emsync_models.music.boundaries import merge_boundaries


def test_merge_keeps_first_of_a_burst_and_drops_out_of_range():
    assert merge_boundaries([5.0, 1.0, 2.5, 9.0, 9.5, 30.0], min_gap_s=4.0, duration_s=20.0) == [1.0, 5.0, 9.0]
    assert merge_boundaries([0.0, 3.0, 6.0], min_gap_s=2.0) == [3.0, 6.0]
    assert merge_boundaries([], min_gap_s=4.0) == []
