"""The arranger's hand on the v2 model's notes: a bass part on a bass, hits that are heard as hits, a
final chord that rings, and every part inside its instrument's range.

The model writes lines and chord tokens; which track carries what is an arranger's decision:
- **bass**: the root of each chord the model wrote, struck on each change and each downbeat, on a bass
  instrument (the model's own bass track where it wrote one, filling only where it rests; a new one
  otherwise), in G1-F#2 after the key shift. On a cut, and under the cadence's dominant, the bass
  states the root whatever the model's bass was doing: that is where the ear needs the new harmony.
- **hits**: every note struck on a hit gets an accent, and where the piece has drums a crash cymbal
  and a kick mark it (a calm piece with no drums is not given a drum kit for it).
- **final chord**: the tonic triad on a sustaining instrument (the model's own where it has one,
  strings otherwise), its root on the bass.
- **ranges**: notes outside their GM program's compass move by octaves into it (pitch class kept).
- **nothing under the bass**: a note of another part struck below the sounding bass note moves up by
  octaves above it (where its instrument reaches), so the bass is the line the ear hears at the bottom.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import symusic

from emsync_models.music.gm_instruments import BASS_PROGRAMS, SUSTAINING, in_range, into_range
from emsync_models.music.v2.bar_grid import FOUR_FOUR, BarGrid
from emsync_models.music.v2.remi import QUALITY_INTERVALS, TICKS_PER_BEAT

BASS_LOW = 31  # G1: the bass's root sits in G1-F#2 (after the key shift), clear on a GM bass
BASS_FAMILY = range(32, 40)
ACOUSTIC_BASS, FINGER_BASS = 32, 33
ENDING_PROGRAM = 48  # string ensemble: holds a chord at an even level to the end
BASS_VELOCITY = 72
HIT_ACCENT = 24  # velocity added to every note struck on a hit
HIT_FLOOR = 96  # and at least this loud
CRASH, KICK = 49, 36
GAP_BEATS = 0.05


def _tick(beat: float) -> int:
    return int(round(beat * TICKS_PER_BEAT))


def bass_pitch(root: int, key_shift: int) -> int:
    """The bass note for a root (in C, before the output's key shift) that sounds in G1-F#2 after it."""
    return BASS_LOW + (root + key_shift - BASS_LOW) % 12 - key_shift


def bass_track(score: symusic.Score, slow: bool) -> symusic.Track:
    """The model's bass-family track with the most notes, else a new bass (acoustic when slow)."""
    ours = [t for t in score.tracks if not t.is_drum and int(t.program) in BASS_FAMILY]
    if ours:
        return max(ours, key=lambda t: len(t.notes))
    score.tracks.append(symusic.Track("bass", ACOUSTIC_BASS if slow else FINGER_BASS))
    return score.tracks[-1]


def _clear(track: symusic.Track, start: int, end: int) -> None:
    """Make room on `track` for a note over [start, end): notes starting inside go, one sounding across
    `start` stops there."""
    keep = []
    for n in track.notes:
        if start <= n.time < end:
            continue
        if n.time < start < n.time + n.duration:
            n.duration = max(start - n.time, 1)
        keep.append(n)
    track.notes.clear()
    track.notes.extend(keep)


def _without(start: float, stop: float, holes: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """[start, stop) less the `holes`, as the pieces left (in order)."""
    pieces = [(start, stop)]
    for a, b in holes:
        pieces = [p for lo, hi in pieces for p in ((lo, min(hi, a)), (max(lo, b), hi)) if p[1] - p[0] > 1e-9]
    return sorted(pieces)


def add_bass_line(score: symusic.Score, changes: Sequence[tuple[float, tuple[int, str]]], end_beat: float,
                  forced: Sequence[tuple[float, float, int]], key_shift: int, slow: bool,
                  grid: BarGrid = FOUR_FOUR) -> symusic.Track:
    """The bass part: `changes` = (beat, (root, quality)) of the model's chords; `forced` = (start beat,
    end beat, root) spans the bass states whatever the model's bass plays (cuts, the cadence)."""
    track = bass_track(score, slow)
    played = [(n.time / TICKS_PER_BEAT, (n.time + n.duration) / TICKS_PER_BEAT) for n in track.notes]
    for start, stop, _ in forced:
        a, b = _tick(start), _tick(stop)
        if b > a:
            _clear(track, a, b)
    spans: list[tuple[float, float, int, bool]] = [(a, b, r, True) for a, b, r in forced]
    for k, (beat, (root, _)) in enumerate(changes):
        stop = min(changes[k + 1][0] if k + 1 < len(changes) else end_beat, end_beat)
        strikes = [beat] + [float(grid.start(bar)) for bar in range(grid.bar_at(beat) + 1, grid.bar_at(stop) + 1)
                            if beat < grid.start(bar) < stop]
        for i, s in enumerate(strikes):
            e = strikes[i + 1] if i + 1 < len(strikes) else stop
            for a, b in _without(s, e, [(fa, fb) for fa, fb, _ in forced]):
                # where the model's own bass sounds, it plays; its rests of a beat or more are filled
                for x, y in _without(a, b, played):
                    if y - x >= 1.0 - 1e-9 or (x == a and y == b):
                        spans.append((x, y, root, False))
    for start, stop, root, _ in sorted(spans):
        a, b = _tick(start), _tick(stop - GAP_BEATS)
        if b > a:
            track.notes.append(symusic.Note(a, b - a, bass_pitch(root, key_shift), BASS_VELOCITY))
    track.notes.sort()
    return track


def ending_track(score: symusic.Score) -> symusic.Track:
    """A sustaining pitched track of the model's (the busiest), else a new string ensemble."""
    held = [t for t in score.tracks if not t.is_drum and int(t.program) in SUSTAINING
            and int(t.program) not in BASS_PROGRAMS]
    if held:
        return max(held, key=lambda t: len(t.notes))
    score.tracks.append(symusic.Track("ending", ENDING_PROGRAM))
    return score.tracks[-1]


def ring_final_chord(score: symusic.Score, final_beat: float, end_beat: float, root: int, quality: str,
                     key_shift: int, slow: bool) -> None:
    """From the last downbeat: drop what the model wrote, sound the tonic to the end: its root on the
    bass, the triad on a sustaining instrument; the drums close with one crash and kick."""
    start, end = _tick(final_beat), _tick(end_beat)
    for track in score.tracks:
        keep = [n for n in track.notes if n.time < start]
        for n in keep:  # nothing from before runs over the final chord
            n.duration = min(n.duration, max(start - n.time, 1))
        track.notes.clear()
        track.notes.extend(keep)
        if track.is_drum and keep:
            track.notes.append(symusic.Note(start, TICKS_PER_BEAT, CRASH, 90))
            track.notes.append(symusic.Note(start, TICKS_PER_BEAT, KICK, 90))
    length = max(end - start, TICKS_PER_BEAT)
    bass = bass_track(score, slow)
    bass.notes.append(symusic.Note(start, length, bass_pitch(root, key_shift), 80))
    chord = ending_track(score)
    for i in QUALITY_INTERVALS[quality]:
        chord.notes.append(symusic.Note(start, length, 60 + root + i, 80))
    for track in score.tracks:
        track.notes.sort()


def accent_hits(score: symusic.Score, hit_beats: Sequence[float]) -> None:
    """Every note struck on a hit louder; where the piece has drums, a crash and a kick on it."""
    ticks = {_tick(b) for b in hit_beats}
    if not ticks:
        return
    drums = [t for t in score.tracks if t.is_drum and len(t.notes)]
    for track in score.tracks:
        for n in track.notes:
            if n.time in ticks:
                n.velocity = min(127, max(n.velocity + HIT_ACCENT, HIT_FLOOR))
    if drums:
        kit = drums[0]
        for t in sorted(ticks):
            struck = {n.pitch for n in kit.notes if n.time == t}
            for pitch, velocity in ((CRASH, 110), (KICK, 105)):
                if pitch not in struck:
                    kit.notes.append(symusic.Note(t, TICKS_PER_BEAT, pitch, velocity))
        kit.notes.sort()


def fit_ranges(score: symusic.Score) -> int:
    """Move every pitched note outside its program's range by octaves into it; returns how many moved."""
    moved = 0
    for track in score.tracks:
        if track.is_drum:
            continue
        for n in track.notes:
            p = into_range(int(track.program), int(n.pitch))
            if p != n.pitch:
                n.pitch = p
                moved += 1
    return moved


def keep_above_bass(score: symusic.Score, bass: symusic.Track) -> int:
    """Move each other pitched note struck under the sounding bass note up by octaves above it (as far
    as its instrument reaches); returns how many moved."""
    lines = sorted((n.time, n.time + n.duration, n.pitch) for n in bass.notes)
    starts = [a for a, _, _ in lines]
    moved = 0
    for track in score.tracks:
        if track.is_drum or track is bass or int(track.program) in BASS_PROGRAMS:
            continue
        for n in track.notes:
            k = bisect.bisect_right(starts, n.time) - 1
            if k < 0 or lines[k][1] <= n.time or n.pitch >= lines[k][2]:
                continue
            p = int(n.pitch)
            while p < lines[k][2]:
                p += 12
            if in_range(int(track.program), p):
                n.pitch = p
                moved += 1
    return moved
