"""Cuts as hit points: a base tempo from arousal, bent slightly so each kept cut lands on a downbeat.

A film composer picks a tempo and then writes a tempo map in which the picture's important events fall
on strong beats; the music keeps its pulse and still hits. Here the map is piecewise constant: between
two anchors (the start, then each hit cut) the tempo is the one that fits a whole number of beats into
the gap, chosen as close to the base tempo as the bound (default ±12 %) allows. A downbeat is preferred;
where cuts are too close for a whole number of bars, the half-bar's strong beat, then any beat within
the bound is taken; where not even
that exists, the nearest beat at the base tempo is used and the residual (how far the beat sounds from
the cut) is reported.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_BPM, MAX_BPM = 66.0, 144.0
DEFAULT_MAX_CHANGE = 0.12


def base_tempo(arousal: float, lo: float = MIN_BPM, hi: float = MAX_BPM) -> float:
    """Beats per minute for an arousal in [-1, 1]: calm music is slow, excited music fast (linear)."""
    a = min(max(float(arousal), -1.0), 1.0)
    return lo + (a + 1.0) / 2.0 * (hi - lo)


@dataclass(frozen=True)
class Hit:
    cut_s: float
    beat: int  # the beat (from 0 at time 0) the cut is mapped to
    time_s: float  # when that beat sounds under the map
    downbeat: bool

    @property
    def residual_s(self) -> float:
        return self.time_s - self.cut_s


@dataclass(frozen=True)
class TempoMap:
    """Tempo segments: segment i starts at beat `start_beats[i]` / time `start_s[i]` at `bpm[i]`."""

    base_bpm: float
    beats_per_bar: int
    start_beats: tuple[int, ...]
    start_s: tuple[float, ...]
    bpm: tuple[float, ...]
    hits: tuple[Hit, ...]

    def time_of(self, beat: float) -> float:
        """Seconds at which a (possibly fractional) beat sounds."""
        i = max(bisect.bisect_right(self.start_beats, beat) - 1, 0)
        return self.start_s[i] + (beat - self.start_beats[i]) * 60.0 / self.bpm[i]

    def beat_of(self, time_s: float) -> float:
        """The (fractional) beat sounding at `time_s`; inverse of time_of."""
        i = max(bisect.bisect_right(self.start_s, time_s) - 1, 0)
        return self.start_beats[i] + (time_s - self.start_s[i]) * self.bpm[i] / 60.0

    def tempo_changes(self) -> list[tuple[int, float]]:
        """(beat, bpm) at each segment start where the tempo differs from the one before."""
        out: list[tuple[int, float]] = []
        for beat, bpm in zip(self.start_beats, self.bpm, strict=True):
            if not out or abs(out[-1][1] - bpm) > 1e-9:
                out.append((beat, bpm))
        return out

    def max_relative_change(self) -> float:
        return max(abs(b / self.base_bpm - 1.0) for b in self.bpm)

    def to_dict(self) -> dict:
        return {
            "base_bpm": self.base_bpm,
            "beats_per_bar": self.beats_per_bar,
            "tempo_changes": [{"beat": b, "bpm": round(t, 4)} for b, t in self.tempo_changes()],
            "hits": [
                {"cut_s": h.cut_s, "beat": h.beat, "time_s": round(h.time_s, 6), "downbeat": h.downbeat,
                 "residual_s": round(h.residual_s, 6)}
                for h in self.hits
            ],
        }


def _closest(candidates: Sequence[int], target: float) -> int | None:
    return min(candidates, key=lambda k: (abs(k - target), k)) if candidates else None


def tempo_map(
    cuts_s: Sequence[float],
    duration_s: float,
    base_bpm: float,
    beats_per_bar: int = 4,
    max_change: float = DEFAULT_MAX_CHANGE,
) -> TempoMap:
    """The tempo map that puts each cut in (0, duration_s) on a downbeat (or a beat), tempo within bounds.

    Cuts should already be thinned (boundaries.merge_boundaries); any order is accepted.
    """
    if base_bpm <= 0 or not math.isfinite(base_bpm):
        raise ValueError(f"base_bpm must be a positive number, got {base_bpm}")
    if beats_per_bar < 1:
        raise ValueError(f"beats_per_bar must be >= 1, got {beats_per_bar}")
    anchor_s, anchor_b = 0.0, 0
    start_beats, start_s, bpms, hits = [0], [0.0], [base_bpm], []
    slow, fast = base_bpm * (1.0 - max_change), base_bpm * (1.0 + max_change)
    for cut in sorted(float(c) for c in cuts_s):
        if not (0.0 < cut < duration_s) or cut <= anchor_s:
            continue
        gap = cut - anchor_s
        lo, hi = gap * slow / 60.0, gap * fast / 60.0
        nominal = gap * base_bpm / 60.0
        feasible = list(range(max(1, math.ceil(lo - 1e-9)), math.floor(hi + 1e-9) + 1))
        downbeats = [k for k in feasible if (anchor_b + k) % beats_per_bar == 0]
        # next best: the bar's other strong beat (beat 3 of 4/4), then any beat
        half = beats_per_bar // 2 if beats_per_bar % 2 == 0 else beats_per_bar
        strong = [k for k in feasible if (anchor_b + k) % half == 0]
        k = _closest(downbeats, nominal) or _closest(strong, nominal) or _closest(feasible, nominal)
        if k is not None:
            bpm = k * 60.0 / gap
            bpms[-1] = bpm  # the segment that ends at this cut
            anchor_s, anchor_b = cut, anchor_b + k
            hits.append(Hit(cut, anchor_b, cut, anchor_b % beats_per_bar == 0))
        else:  # no beat fits within the bound: keep the tempo, take the nearest beat, report the residual
            k = max(1, round(nominal))
            bpm = bpms[-1]
            anchor_s, anchor_b = anchor_s + k * 60.0 / bpm, anchor_b + k
            hits.append(Hit(cut, anchor_b, anchor_s, anchor_b % beats_per_bar == 0))
        start_beats.append(anchor_b)
        start_s.append(anchor_s)
        bpms.append(base_bpm)  # after a hit the music returns to its own tempo
    return TempoMap(base_bpm, beats_per_bar, tuple(start_beats), tuple(start_s), tuple(bpms), tuple(hits))
