"""An arranger's accompaniment under the v2 model's chords: the chord struck on the beat.

The model writes harmony (chord tokens), melody and texture; what it writes rarely keeps a pulse a
listener can tap (pulse clarity 0.42 against the corpus's 0.79) and calm, mid-tempo pieces fall silent
between staccato notes. A film arranger puts a comping part under such a line: the current chord,
voiced close and led smoothly from the last, struck on each beat (the whole chord, or its upper notes
where the bar is busy enough: `texture.comp_voices`) and held to the next. It follows the model's chords
exactly, so it adds pulse and body without adding harmony the model did not write.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from emsync_models.music.v2.bar_grid import FOUR_FOUR, BarGrid

LOW, HIGH = 53, 72  # the comp's register: F3 to C5, under a melody and above the bass
GAP_BEATS = 0.05  # a breath between strikes, so each one is heard as an onset
FAST_BPM = 100.0  # below it a piece is slow: an acoustic bass, not a finger bass


def voicings(pitch_classes: Sequence[int], low: int = LOW, high: int = HIGH) -> list[tuple[int, ...]]:
    """Close voicings of the chord (each inversion, each octave) that fit in [low, high)."""
    pcs = list(dict.fromkeys(pc % 12 for pc in pitch_classes))
    out = []
    for i in range(len(pcs)):
        order = pcs[i:] + pcs[:i]
        for base in range(low - 12, high):
            if base % 12 != order[0]:
                continue
            notes, last = [base], base
            for pc in order[1:]:
                last = last + ((pc - last) % 12 or 12)
                notes.append(last)
            if notes[0] >= low and notes[-1] < high:
                out.append(tuple(notes))
    return out


def lead(previous: tuple[int, ...] | None, options: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The voicing nearest the previous one (smallest summed movement); the middle of the register first."""
    if previous is None:
        middle = (LOW + HIGH) / 2
        return min(options, key=lambda v: abs(sum(v) / len(v) - middle))
    return min(options, key=lambda v: (sum(min(abs(p - q) for q in previous) for p in v), v))


def comp_notes(changes: Sequence[tuple[float, Sequence[int]]], end_beat: float, every: int = 1,
               velocity: int = 50, accent: int = 10, grid: BarGrid = FOUR_FOUR,
               level: Callable[[float], int] | None = None,
               voices: Callable[[float], int] | None = None,
               offbeat: Callable[[float], int] | None = None) -> list[tuple[float, float, int, int]]:
    """(start beat, end beat, pitch, velocity) of the comp for chords `changes` = (beat, pitch classes),
    sorted by beat, up to `end_beat`: struck at each chord change and every `every` beats of the bar
    after it, counted from the bar's downbeat in `grid`, at `velocity` (or `level(beat)`), with the
    whole voicing or its upper `voices(beat)` notes, and with its upper `offbeat(beat)` notes (none
    without it) on the eighth after each strike that has room for one. A chord with no pitch classes
    (no chord) rests."""
    notes: list[tuple[float, float, int, int]] = []
    previous: tuple[int, ...] | None = None
    for k, (start, pcs) in enumerate(changes):
        stop = min(changes[k + 1][0] if k + 1 < len(changes) else end_beat, end_beat)
        if stop <= start or not pcs:
            continue
        options = voicings(pcs)
        if not options:
            continue
        voicing = lead(previous, options)
        previous = voicing
        beats = [start] + [float(b) for b in range(math.floor(start) + 1, math.ceil(stop))
                           if grid.beat_in_bar(b) % every == 0]
        strikes: list[tuple[float, int]] = []  # (beat, notes from the top of the voicing)
        for i, t in enumerate(beats):
            strikes.append((t, voices(t) if voices is not None else len(voicing)))
            after = offbeat(t) if offbeat is not None else 0
            if after and t + 0.5 < (beats[i + 1] if i + 1 < len(beats) else stop) - 1e-6:
                strikes.append((t + 0.5, after))
        for i, (t, count) in enumerate(strikes):
            until = strikes[i + 1][0] if i + 1 < len(strikes) else stop
            length = max(until - t - GAP_BEATS, GAP_BEATS)
            on_downbeat = abs(t - round(t)) < 1e-6 and grid.beat_in_bar(round(t)) == 0
            vel = (level(t) if level is not None else velocity) + (accent if on_downbeat else 0)
            notes.extend((t, t + length, p, vel) for p in voicing[-count:])
    return notes
