"""Where each bar starts: 4/4, except where a hit point shortened a bar so that a cut falls on a downbeat.

Film composers land a hit with a bar of 2/4 or 3/4 before it rather than bend the tempo by a tenth:
the beat keeps its pace and the cut is still the first beat of a bar. The grid lists the downbeats (in
beats from the start) of the planned bars; past the last one, bars are `beats_per_bar` long again.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class BarGrid:
    starts: tuple[int, ...] = (0,)  # downbeats of the planned bars, strictly increasing, from 0
    beats_per_bar: int = 4

    def __post_init__(self) -> None:
        rising = all(b > a for a, b in zip(self.starts, self.starts[1:], strict=False))
        if not self.starts or self.starts[0] != 0 or not rising:
            raise ValueError(f"bar starts must rise strictly from 0, got {self.starts[:8]}")

    def start(self, bar: int) -> int:
        """The beat on which `bar` (from 0) starts."""
        last = len(self.starts) - 1
        if bar <= last:
            return self.starts[max(bar, 0)]
        return self.starts[-1] + (bar - last) * self.beats_per_bar

    def length(self, bar: int) -> int:
        """Beats in `bar`."""
        return self.start(bar + 1) - self.start(bar)

    def bar_at(self, beat: float) -> int:
        """The bar sounding at `beat` (the last one starting at or before it)."""
        if beat >= self.starts[-1]:
            return len(self.starts) - 1 + int((beat - self.starts[-1]) // self.beats_per_bar)
        return max(bisect.bisect_right(self.starts, beat) - 1, 0)

    def beat_in_bar(self, beat: float) -> float:
        """Beats since the downbeat of the bar sounding at `beat` (0 on a downbeat)."""
        return beat - self.start(self.bar_at(beat))

    def meter_changes(self, n_bars: int) -> list[tuple[int, int]]:
        """(downbeat, beats in the bar) wherever a bar's length differs from the bar before it."""
        out: list[tuple[int, int]] = []
        for bar in range(n_bars):
            length = self.length(bar)
            if not out or out[-1][1] != length:
                out.append((self.start(bar), length))
        return out


FOUR_FOUR = BarGrid()  # every bar 4/4: the grid the model was trained on
