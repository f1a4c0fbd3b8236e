"""Cuts as hit points: a base tempo from arousal, and a tempo map and bar plan that put each kept cut on a strong beat.

A film composer picks a tempo and then writes a tempo map in which the picture's important events fall
on strong beats; the music keeps its pulse and its phrases and still hits. Here the map is piecewise
constant: between two anchors (the start, then each hit cut) the tempo is the one that fits a whole
number of beats into the gap, and the bars run on in 4/4 across the cuts, so the music keeps its
4- and 8-bar phrases. Each cut lands on a downbeat or on the middle of the bar (beat 3), whichever
bends the tempo less (a downbeat is preferred by a few per cent), within the bound (default +-12 %)
and the documented tempo range (66-144 BPM). Only where neither fits does a short bar (2/4 or 3/4;
3/4 + 2/4 for one beat over) before the cut break the phrase, as composers add a bar of 2/4 to land a
hit. The base tempo itself may move a little (+-8 %) from arousal's, to the value that needs the
fewest short bars, then the smallest steps. Where no beat fits within the bound (cuts closer than the
merging allows), the nearest beat at the tempo sounding is used and the residual (how far the beat
sounds from the cut) is reported.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from emsync_models.music.v2.bar_grid import BarGrid

MIN_BPM, MAX_BPM = 66.0, 144.0
DEFAULT_MAX_CHANGE = 0.12
BASE_SPAN = 0.08  # how far the base tempo may move from arousal's to let the cuts fit
BASE_STEP = 0.0025


def base_tempo(arousal: float, lo: float = MIN_BPM, hi: float = MAX_BPM) -> float:
    """Beats per minute for an arousal in [-1, 1]: calm music is slow, excited music fast (linear)."""
    a = min(max(float(arousal), -1.0), 1.0)
    return lo + (a + 1.0) / 2.0 * (hi - lo)


@dataclass(frozen=True)
class Hit:
    cut_s: float
    beat: int  # the beat (from 0 at time 0) the cut is mapped to
    time_s: float  # when that beat sounds under the map
    downbeat: bool  # else the middle of the bar (or a residual's nearest beat)

    @property
    def residual_s(self) -> float:
        return self.time_s - self.cut_s

    @property
    def exact(self) -> bool:
        """The cut's beat sounds on the cut (no residual beyond float rounding)."""
        return abs(self.residual_s) <= 1e-9


@dataclass(frozen=True)
class TempoMap:
    """Tempo segments: segment i starts at beat `start_beats[i]` / time `start_s[i]` at `bpm[i]`."""

    base_bpm: float
    beats_per_bar: int
    start_beats: tuple[int, ...]
    start_s: tuple[float, ...]
    bpm: tuple[float, ...]
    hits: tuple[Hit, ...]
    bar_starts: tuple[int, ...] = (0,)  # downbeats up to the last hit's; 4/4 after it
    requested_bpm: float = 0.0  # arousal's tempo, before the base was moved to fit the cuts

    def grid(self) -> BarGrid:
        return BarGrid(self.bar_starts, self.beats_per_bar)

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
            "requested_bpm": self.requested_bpm,
            "beats_per_bar": self.beats_per_bar,
            "tempo_changes": [{"beat": b, "bpm": round(t, 4)} for b, t in self.tempo_changes()],
            "meter_changes": [{"beat": b, "beats": n}
                              for b, n in self.grid().meter_changes(len(self.bar_starts) + 1)],
            "hits": [
                {"cut_s": h.cut_s, "beat": h.beat, "time_s": round(h.time_s, 6), "downbeat": h.downbeat,
                 "residual_s": round(h.residual_s, 6)}
                for h in self.hits
            ],
        }


def section_bars(beats: int, beats_per_bar: int) -> list[int]:
    """Bar lengths of a `beats`-long gap that ends on a downbeat: whole bars, then the short bar before
    the hit; one beat over a whole bar becomes 3/4 + 2/4 (a bar of one beat is not heard as a bar)."""
    whole, over = divmod(beats, beats_per_bar)
    if over == 0:
        return [beats_per_bar] * whole
    if over == 1 and whole >= 1 and beats_per_bar >= 3:
        return [beats_per_bar] * (whole - 1) + [beats_per_bar - 1, 2]
    return [beats_per_bar] * whole + [over]


# What a hit on the bar's middle beat (beat 3 of 4/4) costs against one on a downbeat, in the same units
# as a tempo bend (relative change): a composer bends the tempo a few per cent sooner than he moves a
# hit off the downbeat, and moves it to beat 3 long before he breaks the phrase with a short bar.
MID_BAR_COST = 0.02


def _downbeats_through(bars: list[int], beat: int, beats_per_bar: int) -> None:
    """Extend `bars` (downbeats) in whole bars up to and including `beat`."""
    while bars[-1] + beats_per_bar <= beat:
        bars.append(bars[-1] + beats_per_bar)


def _short_bar_before(bars: list[int], beat: int, beats_per_bar: int, hit_beats: set[int]) -> None:
    """Downbeats up to `beat`, ending in a short bar so that `beat` is a downbeat (2/4 or 3/4; one beat
    over takes a beat from the bar before: 3/4 + 2/4, never a bar of one beat)."""
    _downbeats_through(bars, beat, beats_per_bar)
    over = beat - bars[-1]
    if over == 0:
        return
    last = bars[-1]
    if over == 1 and len(bars) >= 2 and last not in hit_beats and last - bars[-2] >= 3:
        bars[-1] = last - 1  # the bar before loses a beat, the short bar gets two
    elif over == 1 and len(bars) >= 2 and last not in hit_beats:
        bars.pop()  # the bar before was already short (2 beats): it grows to 3 and ends on the hit
    bars.append(beat)


def _beat_in_bar(offset: int, beats_per_bar: int, k: int) -> int:
    return (offset + k) % beats_per_bar


def _fit(cuts: Sequence[float], duration_s: float, base_bpm: float, beats_per_bar: int,
         max_change: float, bpm_range: tuple[float, float] = (MIN_BPM, MAX_BPM)) -> TempoMap:
    """Bars run on in 4/4 across the cuts. Each gap takes the beat count that lands its cut on a downbeat
    with the least bend of the tempo, else on the middle beat (`MID_BAR_COST`), within the bound and the
    tempo range; only where neither fits does a short bar before the cut break the phrase."""
    anchor_s, anchor_b = 0.0, 0
    start_beats, start_s, bpms, hits, bars = [0], [0.0], [base_bpm], [], [0]
    hit_beats: set[int] = set()
    slow = max(base_bpm * (1.0 - max_change), bpm_range[0])
    fast = min(base_bpm * (1.0 + max_change), bpm_range[1])
    half = beats_per_bar // 2 if beats_per_bar % 2 == 0 else None
    for cut in cuts:
        if not (0.0 < cut < duration_s) or cut <= anchor_s:
            continue
        gap = cut - anchor_s
        lo, hi = gap * slow / 60.0, gap * fast / 60.0
        nominal = gap * base_bpm / 60.0
        feasible = range(max(1, math.ceil(lo - 1e-9)), math.floor(hi + 1e-9) + 1)
        _downbeats_through(bars, anchor_b, beats_per_bar)
        in_bar = functools.partial(_beat_in_bar, anchor_b - bars[-1], beats_per_bar)
        strong = [k for k in feasible if in_bar(k) == 0 or (half is not None and in_bar(k) == half)]
        downbeat = True
        if strong:  # the phrase runs on: bend the tempo, the middle beat if the downbeat is too far
            k = min(strong, key=lambda n: (abs(n / nominal - 1.0) + (MID_BAR_COST if in_bar(n) else 0.0), n))
            downbeat = in_bar(k) == 0
            bpms[-1] = k * 60.0 / gap
            anchor_s = cut
            _downbeats_through(bars, anchor_b + k, beats_per_bar)
        elif feasible:  # worth breaking the phrase: a short bar before the hit
            k = min(feasible, key=lambda n: (abs(n - nominal), n))
            bpms[-1] = k * 60.0 / gap
            anchor_s = cut
            _short_bar_before(bars, anchor_b + k, beats_per_bar, hit_beats)
        else:  # no beat fits within the bound: keep the tempo, take the nearest beat, report the residual
            k = max(1, round(nominal))
            anchor_s = anchor_s + k * 60.0 / bpms[-1]
            _short_bar_before(bars, anchor_b + k, beats_per_bar, hit_beats)
        anchor_b += k
        hit_beats.add(anchor_b)
        hits.append(Hit(cut, anchor_b, anchor_s, downbeat))
        start_beats.append(anchor_b)
        start_s.append(anchor_s)
        bpms.append(base_bpm)  # after a hit the music returns to its own tempo
    return TempoMap(base_bpm, beats_per_bar, tuple(start_beats), tuple(start_s), tuple(bpms), tuple(hits),
                    tuple(bars))


def base_factors(base_span: float = BASE_SPAN) -> list[float]:
    """Multipliers of arousal's tempo the base may take: +-`base_span` in BASE_STEP steps, nearest first."""
    n = int(round(max(base_span, 0.0) / BASE_STEP))
    return sorted((1.0 + i * BASE_STEP for i in range(-n, n + 1)), key=lambda f: abs(f - 1.0))


def tempo_map(
    cuts_s: Sequence[float],
    duration_s: float,
    base_bpm: float,
    beats_per_bar: int = 4,
    max_change: float = DEFAULT_MAX_CHANGE,
    base_span: float = BASE_SPAN,
) -> TempoMap:
    """The tempo map and bars that put each cut in (0, duration_s) on a strong beat, tempo within bounds.

    The base tempo is the one within `base_span` of `base_bpm` (and inside MIN_BPM-MAX_BPM) whose map
    needs the fewest residuals, then the fewest short bars, then the smallest tempo steps (in
    half-percent steps), then the fewest hits on the middle beat, then the least move from `base_bpm`.
    Cuts should already be thinned (boundaries.merge_boundaries); any order is accepted.
    """
    if base_bpm <= 0 or not math.isfinite(base_bpm):
        raise ValueError(f"base_bpm must be a positive number, got {base_bpm}")
    if beats_per_bar < 1:
        raise ValueError(f"beats_per_bar must be >= 1, got {beats_per_bar}")
    cuts = sorted(float(c) for c in cuts_s)
    lo, hi = MIN_BPM, MAX_BPM
    requested = min(max(float(base_bpm), lo), hi)  # the documented range is a promise, whoever asks
    best: tuple[tuple[int, ...], TempoMap] | None = None
    for f in base_factors(base_span):  # nearest first, so a tie keeps the tempo closest to arousal's
        if not lo <= requested * f <= hi:
            continue
        tm = _fit(cuts, duration_s, requested * f, beats_per_bar, max_change)
        residuals = sum(not h.exact for h in tm.hits)
        short = sum(1 for bar in range(len(tm.bar_starts) - 1) if tm.grid().length(bar) != beats_per_bar)
        mid = sum(not h.downbeat for h in tm.hits)
        key = (residuals, short, math.ceil(tm.max_relative_change() / 0.005 - 1e-9), mid)
        if best is None or key < best[0]:
            best = (key, tm)
    assert best is not None
    return replace(best[1], requested_bpm=float(base_bpm))
