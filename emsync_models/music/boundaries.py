"""Which of the video's cuts the music marks: the 4-second rule every generator applies to a request's cuts.

A cut closer than `min_gap_s` to the previous kept cut merges into it (each model's `min_gap_s`,
EMSYNC_MIN_BOUNDARY_GAP_S for a job).
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_MIN_GAP_S = 4.0


def merge_boundaries(
    boundaries_s: Sequence[float], min_gap_s: float = DEFAULT_MIN_GAP_S, duration_s: float | None = None
) -> list[float]:
    """Sorted boundaries with any boundary closer than `min_gap_s` to the previous kept one dropped.

    A burst of quick cuts becomes its first cut: one chord change per burst sounds intentional, a
    chord change every half second does not. Boundaries at 0 or past the end are dropped.
    """
    kept: list[float] = []
    for b in sorted(float(x) for x in boundaries_s):
        if b <= 0 or (duration_s is not None and b >= duration_s):
            continue
        if not kept or b - kept[-1] >= min_gap_s:
            kept.append(b)
    return kept
