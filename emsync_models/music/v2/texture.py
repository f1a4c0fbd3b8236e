"""How busy the music is, bar by bar: the arranger thins a crowded bar and sets the comp to the scene.

Across pieces the model's density follows arousal (its conditioning learned that), but inside a long
piece two things flattened it: the comp struck on each beat below a walking tempo and on each half bar
above it, so a calm 88 BPM stretch came out busier than a tense 122 BPM one; and now and then the model
stacks notes (tutti chords on every sixteenth) far past anything the scene asks for. An arranger fixes
both by ear; here they are fixed by a target density per bar, from the arousal of the scene sounding:
- a bar of the model's notes more than `CROWDED` times over the target loses its least important notes
  (inner voices off the beat and quiet first; the top line, the bass and downbeats stay);
- the comp strikes on each beat (the pulse a listener taps) with its whole chord, three, two or one of
  its upper notes: the fullest that keeps the bar's phrase (4 bars) within `CROWDED` times the target;
  under an excited scene it may also strike the eighth after each beat with its upper notes. Where the
  model's own lines are sparse (a riff on one guitar, the drive in the drums) one strike a beat was the
  most the comp could add, and an excited stretch came out thinner than a neutral one whose lines were
  busy; a driving eighth-note comp is what an arranger writes there, and not under a calm scene;
- the comp plays louder under an excited scene and softer under a calm one (`comp_level`): it carries
  more of the notes where the scene is excited, and at one level it would pull the piece's loudness
  down exactly where the scene rises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import symusic

from emsync_models.music.v2.bar_grid import BarGrid
from emsync_models.music.v2.plan import AROUSAL_BANDS

# Pitched onsets per second at arousal 0 and how fast it grows: the model's own grid cells (calm about
# 6, neutral 10, excited 15-16 notes/s at arousal -0.8 / 0 / +0.8), inside the corpus's 5-95 % range.
DENSITY_AT_ZERO = 10.0
DENSITY_SLOPE = 0.55
CROWDED = 1.3
PHRASE_BARS = 4
WHOLE_CHORD = 4  # a comp voicing has 3 or 4 notes: 4 voices is the whole of it
# (notes struck on each beat, on the eighth after it), fullest first
VOICE_CHOICES: tuple[tuple[int, int], ...] = ((WHOLE_CHORD, 0), (3, 0), (2, 0), (1, 0))
# an excited phrase may drive on eighths: the whole chord on the beat, its upper notes between
EXCITED_CHOICES: tuple[tuple[int, int], ...] = ((WHOLE_CHORD, WHOLE_CHORD), (WHOLE_CHORD, 2), (WHOLE_CHORD, 1),
                                                *VOICE_CHOICES)
EXCITED_AROUSAL = AROUSAL_BANDS[1]  # the plan's excited band
COMP_VELOCITY = 50
COMP_VELOCITY_PER_AROUSAL = 16  # on top of the +-24 every part gets from the scene's arousal


def target_density(arousal: float) -> float:
    """Pitched onsets per second that suit a scene of this arousal (in [-1, 1])."""
    return DENSITY_AT_ZERO * math.exp(DENSITY_SLOPE * min(max(arousal, -1.0), 1.0))


def _keep_priority(note: symusic.Note, top: bool, beat_ticks: int) -> tuple[int, int]:
    on_beat = note.time % beat_ticks == 0
    on_eighth = note.time % (beat_ticks // 2) == 0
    return (4 * top + 2 * on_beat + on_eighth, note.velocity)


def _by_bar(notes: Sequence[Sequence[symusic.Note]], grid: BarGrid, n_bars: int,
            beat_ticks: int) -> dict[int, list[tuple[int, int]]]:
    """(track, note) indices of each bar's notes, for bars 0 .. n_bars - 1."""
    by_bar: dict[int, list[tuple[int, int]]] = {}
    for ti, track_notes in enumerate(notes):
        for ni, n in enumerate(track_notes):
            bar = grid.bar_at(n.time / beat_ticks)
            if 0 <= bar < n_bars:
                by_bar.setdefault(bar, []).append((ti, ni))
    return by_bar


def thin_crowded_bars(score: symusic.Score, grid: BarGrid, n_bars: int, beat_ticks: int,
                      bar_seconds: Callable[[int], float], bar_arousal: Callable[[int], float],
                      keep: Callable[[symusic.Track], bool]) -> int:
    """Drop the least important pitched notes of each bar past `CROWDED` x its target; returns how many.
    Tracks for which `keep` is true (the bass, a restated theme) are counted but never thinned."""
    pitched = [t for t in score.tracks if not t.is_drum]
    notes = [list(t.notes) for t in pitched]  # one read: symusic hands out a new view on each access
    drop: set[tuple[int, int]] = set()
    for bar, inside in _by_bar(notes, grid, n_bars, beat_ticks).items():
        cap = int(CROWDED * target_density(bar_arousal(bar)) * bar_seconds(bar))
        excess = len(inside) - cap
        if excess <= 0:
            continue
        lo = grid.start(bar) * beat_ticks
        highest: dict[int, int] = {}
        for ti, ni in inside:
            n = notes[ti][ni]
            highest[n.time] = max(highest.get(n.time, 0), n.pitch)
        candidates = [(ti, ni) for ti, ni in inside if not keep(pitched[ti])
                      and not (notes[ti][ni].time == lo and notes[ti][ni].pitch == highest[lo])]
        candidates.sort(key=lambda k: _keep_priority(notes[k[0]][k[1]], notes[k[0]][k[1]].pitch
                                                     == highest[notes[k[0]][k[1]].time], beat_ticks))
        drop.update(candidates[:excess])
    for ti, track in enumerate(pitched):
        gone = {ni for t, ni in drop if t == ti}
        if gone:
            kept = [symusic.Note(n.time, n.duration, n.pitch, n.velocity)
                    for ni, n in enumerate(notes[ti]) if ni not in gone]
            track.notes.clear()
            track.notes.extend(kept)
    return len(drop)


def comp_voices(score: symusic.Score, grid: BarGrid, n_bars: int, beat_ticks: int,
                bar_seconds: Callable[[int], float], bar_arousal: Callable[[int], float]) -> list[tuple[int, int]]:
    """(notes on each beat, notes on the eighth after it) of the comp for each bar: per phrase, the fullest
    choice whose notes with the phrase's own keep it within `CROWDED` x the target (one note a beat where
    none does); eighths only where the phrase's scene is excited."""
    by_bar = _by_bar([list(t.notes) for t in score.tracks if not t.is_drum], grid, n_bars, beat_ticks)
    own = [len(by_bar.get(b, ())) for b in range(n_bars)]
    out: list[tuple[int, int]] = []
    for first in range(0, n_bars, PHRASE_BARS):
        bars = range(first, min(first + PHRASE_BARS, n_bars))
        beats = sum(grid.length(b) for b in bars)
        allowed = sum(CROWDED * target_density(bar_arousal(b)) * bar_seconds(b) for b in bars)
        notes = sum(own[b] for b in bars)
        excited = sum(bar_arousal(b) for b in bars) / len(bars) >= EXCITED_AROUSAL
        choice = next((c for c in (EXCITED_CHOICES if excited else VOICE_CHOICES)
                       if notes + (min(c[0], 3.5) + min(c[1], 3.5)) * beats <= allowed), VOICE_CHOICES[-1])
        out.extend(choice for _ in bars)
    return out


def voices_at(choices: Sequence[tuple[int, int]], grid: BarGrid,
              part: int = 0) -> Callable[[float], int]:
    """The comp's notes per strike at a beat, from the per-bar choice (`comp_voices`): on the beat
    (`part` 0) or on the eighth after it (`part` 1)."""
    def voices(beat: float) -> int:
        if not choices:
            return WHOLE_CHORD if part == 0 else 0
        return choices[min(max(grid.bar_at(beat), 0), len(choices) - 1)][part]
    return voices


def comp_level(arousal: float) -> int:
    """The comp's velocity under a scene of this arousal (before the dynamics every part gets)."""
    return int(round(COMP_VELOCITY + COMP_VELOCITY_PER_AROUSAL * min(max(arousal, -1.0), 1.0)))
