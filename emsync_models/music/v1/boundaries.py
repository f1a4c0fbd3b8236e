"""Boundary offsets: how the v1 generator knows where the next scene cut (or, in training, chord change) is.

At every step the model sees the seconds to the next pending boundary, capped at `CAP_S`. In training
the boundaries are the music's own chord changes, so the model learns to emit CHORD as an offset runs
out; at inference they are the video's cuts, and a cut is crossed off once a CHORD lands within
`HIT_WINDOW_S` of it (or once the clock is that far past it, so a missed cut does not block the rest).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emsync_models.music.v1.vocab import CHORD

CAP_S = 8.0
HIT_WINDOW_S = 1.0


def offset_feature(seconds_to_boundary: np.ndarray | float) -> np.ndarray:
    """(CAP - t) / CAP in [0, 1]: 0 = no boundary within the cap, 1 = boundary now."""
    t = np.clip(np.asarray(seconds_to_boundary, dtype=np.float32), 0.0, CAP_S)
    return (CAP_S - t) / CAP_S


def training_next_boundary(tokens: np.ndarray, times: np.ndarray, chord_times: Sequence[float]) -> np.ndarray:
    """For each position, the time of the boundary pending after that token (inf when none is left).

    The pointer moves past a boundary when its CHORD token has been read, exactly as the inference
    tracker crosses off a cut, so training and generation see the same signal.
    """
    bounds = np.asarray(sorted(chord_times) + [np.inf], dtype=np.float64)
    passed = np.cumsum(tokens == CHORD)
    return bounds[np.minimum(passed, len(bounds) - 1)].astype(np.float32)


class BoundaryTracker:
    """Inference-time bookkeeping of pending boundaries (the video's cuts)."""

    def __init__(self, boundaries_s: Sequence[float]) -> None:
        self.boundaries = sorted(float(b) for b in boundaries_s)
        self.index = 0
        self.hits: list[float] = []

    def seconds_to_next(self, now: float) -> float:
        if self.index >= len(self.boundaries):
            return CAP_S
        return min(max(self.boundaries[self.index] - now, 0.0), CAP_S)

    def update(self, token: int, now: float) -> None:
        if self.index < len(self.boundaries):
            if token == CHORD and abs(now - self.boundaries[self.index]) <= HIT_WINDOW_S:
                self.hits.append(self.boundaries[self.index])
                self.index += 1
        while self.index < len(self.boundaries) and now > self.boundaries[self.index] + HIT_WINDOW_S:
            self.index += 1
