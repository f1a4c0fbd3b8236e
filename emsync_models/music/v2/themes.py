"""A theme restated: the melody of a feeling's first four bars, brought back when that feeling returns.

Film scores tie a melody to a feeling and bring it back, varied, when the story returns to it. The
theme is the top line (the highest note of each onset) of the bars that stated it; a restatement plays
it from the new section's first downbeat on its own instrument (a different one at each return: the
re-orchestration), rhythmically augmented at every second return (twice as slow, over twice the bars),
in the register the section's intensity asks for, over the theme's own chords (which the decoding
forced at the same places, `restate_chords`). The model's notes in the melody's register make room.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import symusic

from emsync_models.music.v2.bar_grid import BarGrid
from emsync_models.music.v2.remi import BEATS_PER_BAR, RESOLUTION, TICKS_PER_BEAT
from emsync_models.music.v2.sample import ForcedChord

THEME_BARS = 4
THEME_NAME = "theme"
# Melody instruments a returning theme moves between: flute, violin, oboe, clarinet, French horn, vibraphone.
THEME_PROGRAMS = (73, 40, 68, 71, 60, 11)


def theme_span(n_bars: int, augment: bool) -> int:
    """Bars a restatement takes in a section of `n_bars` (its last bar stays the section's own)."""
    return max(min(THEME_BARS * (2 if augment else 1), n_bars - 1), 0)


def _target_beat(bar: int, offset: float, factor: int, grid: BarGrid, limit: int) -> float | None:
    """Where a theme event at (bar, offset in beats) of 4/4 bars lands, `factor` times slower, in `grid`."""
    pos = (bar * BEATS_PER_BAR + offset) * factor
    target, inside = int(pos // BEATS_PER_BAR), pos % BEATS_PER_BAR
    if target >= limit or inside >= grid.length(target):
        return None  # past the restatement, or in the part of a short bar that is not there
    return grid.start(target) + inside


def restate_chords(forced: Sequence[ForcedChord], chords: Sequence[tuple[int, float, int]], grid: BarGrid,
                   n_bars: int, augment: bool) -> tuple[list[ForcedChord], int]:
    """The section's forced chords with the theme's chords (bar, beat in bar, chord id) added where they
    fall, and the grid step before which no other chord may be written."""
    limit = theme_span(n_bars, augment)
    by_step = {f.step: f for f in forced}
    for bar, offset, chord in chords:
        beat = _target_beat(bar, offset, 2 if augment else 1, grid, limit)
        if beat is None:
            continue
        step = int(round(beat * RESOLUTION))
        if step == 0 or (step in by_step and by_step[step].chord_id is not None):
            continue  # the opening tonic and any given chord stay
        by_step[step] = ForcedChord(step, chord)
    return [by_step[k] for k in sorted(by_step)], grid.start(limit) * RESOLUTION


def top_line(score: symusic.Score, grid: BarGrid, bars: int = THEME_BARS) -> list[tuple[int, float, float, int]]:
    """(bar, beat in bar, length in beats, pitch) of the highest note of each onset in the first `bars`."""
    best: dict[int, tuple[int, int]] = {}
    for track in score.tracks:
        if track.is_drum or track.name == THEME_NAME:
            continue
        for n in track.notes:
            if grid.bar_at(n.time / TICKS_PER_BEAT) < bars and n.pitch > best.get(n.time, (0, 0))[0]:
                best[n.time] = (n.pitch, n.duration)
    times = sorted(best)
    out = []
    for k, t in enumerate(times):
        pitch, length = best[t]
        if k + 1 < len(times):
            length = min(length, times[k + 1] - t)  # a melody: each note ends where the next begins
        beat = t / TICKS_PER_BEAT
        bar = grid.bar_at(beat)
        out.append((bar, beat - grid.start(bar), length / TICKS_PER_BEAT, pitch))
    return out


def restate_theme(score: symusic.Score, line: Sequence[tuple[int, float, float, int]], grid: BarGrid,
                  n_bars: int, augment: bool, program: int, intensity: float) -> None:
    """Add the theme `line` (from `top_line`) from the section's first downbeat on its own track."""
    limit = theme_span(n_bars, augment)
    factor = 2 if augment else 1
    placed = []
    for bar, offset, length, pitch in line:
        beat = _target_beat(bar, offset, factor, grid, limit)
        if beat is not None:
            placed.append((beat, min(length * factor, grid.start(limit) - beat), pitch))
    if not placed:
        return
    # register from intensity: calm themes sit around G4, excited ones an octave higher
    median = float(np.median([p for _, _, p in placed]))
    target = 62 + 14 * min(max(intensity, 0.0), 1.0)
    octave = 12 * int(round((target - median) / 12))
    low = min(p for _, _, p in placed) + octave
    end = grid.start(limit) * TICKS_PER_BEAT
    for track in score.tracks:  # the model's notes in the melody's register make room for it
        if track.is_drum:
            continue
        keep = [n for n in track.notes if not (n.time < end and n.pitch >= low)]
        track.notes.clear()
        track.notes.extend(keep)
    theme = symusic.Track(THEME_NAME, program)
    velocity = int(round(64 + 36 * min(max(intensity, 0.0), 1.0)))
    for beat, length, pitch in placed:
        start = int(round(beat * TICKS_PER_BEAT))
        theme.notes.append(symusic.Note(start, max(int(round(length * TICKS_PER_BEAT)), 1), pitch + octave, velocity))
    score.tracks.append(theme)
