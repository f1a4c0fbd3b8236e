"""The 4-second rule, visible: each cut is reported kept (with its hit point) or merged into an earlier one."""

from __future__ import annotations

from flows.cli.app import _cut_line
from flows.soundtrack import cut_decisions


def test_cuts_closer_than_the_gap_to_the_previous_kept_cut_are_merged_and_say_so() -> None:
    hits = [{"cut_s": 3.0, "beat": 4, "chord_sounds_s": 3.0, "residual_s": 0.0},
            {"cut_s": 8.5, "beat": 12, "chord_sounds_s": 8.5, "residual_s": 0.0}]
    cuts = cut_decisions([3.0, 5.5, 6.9, 8.5], duration_s=12.0, min_gap_s=4.0, cut_chords=hits)
    assert [c["kept"] for c in cuts] == [True, False, False, True]
    # merged into the previous KEPT cut (3.0), not the previous cut: 6.9 is 1.4 s after 5.5 but 3.9 s after 3.0
    assert [c.get("merged_into_s") for c in cuts[1:3]] == [3.0, 3.0]
    assert cuts[0]["chord_sounds_s"] == 3.0 and cuts[3]["residual_s"] == 0.0
    lines = [_cut_line(c) for c in cuts]
    assert lines[0] == "3.00 kept: chord at 3.00 s (residual 0.000 s)"
    assert lines[2] == "6.90 merged: 3.90 s after the kept cut at 3.00 s (< 4 s)"


def test_a_smaller_gap_keeps_more_cuts() -> None:
    assert [c["kept"] for c in cut_decisions([3.0, 5.5, 6.9], 12.0, 1.0)] == [True, True, True]
