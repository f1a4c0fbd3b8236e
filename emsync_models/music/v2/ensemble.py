"""One ensemble per section: a part that plays in a section plays through it.

The plan sets a section's instruments at its start (no new instrument may enter later), but the model
may let a part stop for good a third of the way in, or leave a line silent for half a minute and bring
it back; a restated theme's instrument finished with its four bars. Heard over a long picture those are
instruments leaving and coming back in the middle of a scene, where nothing in the picture turns. An
arranger keeps the section's colour by having a resting part hold the harmony softly: here every rest
of a phrase or longer (and the stretch before a part's first note or after its last) is filled with
the tone of each of the model's chords nearest the part's own register (the key's tonic or fifth, where
the chord has it: an inner pedal), held to the next change (a tone the next chord shares is tied over for up
to two bars, not struck again). A
part that plays less than a bar in the whole section is a stray, not a member of the ensemble: its
notes go. Where the closing section has no sustaining part to ring the final chord on, the instrument
that will ring it (strings) joins at the section's start and holds with the others, rather than
entering for the last chord alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import symusic

from emsync_models.music.v2.arranger import ending_track
from emsync_models.music.v2.remi import BEATS_PER_BAR, QUALITY_INTERVALS

HOLD_AFTER_BARS = 4  # a rest this long (a phrase) is a part leaving, not breathing
STRAY_BARS = 1  # a part sounding less than this in a section is not in its ensemble
TIE_BARS = 2  # a tone tied longer than this is struck again: a line that holds, not a drone
HOLD_SOFTER = 12  # velocity under the part's own median: holding, not playing


def sounding_spans(notes: Sequence[symusic.Note]) -> list[tuple[int, int]]:
    """The union of the notes' [start, end) spans, in order."""
    spans: list[tuple[int, int]] = []
    for n in sorted(notes, key=lambda n: n.time):
        a, b = int(n.time), int(n.time + n.duration)
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    return spans


def rests(spans: Sequence[tuple[int, int]], end: int, min_ticks: int) -> list[tuple[int, int]]:
    """The silences of at least `min_ticks` in [0, end) between `spans`."""
    out, at = [], 0
    for a, b in spans:
        if a - at >= min_ticks:
            out.append((at, min(a, end)))
        at = max(at, b)
    if end - at >= min_ticks:
        out.append((at, end))
    return [(a, b) for a, b in out if b > a]


def nearest_tone(pcs: Sequence[int], around: int) -> int:
    """The pitch with a pitch class in `pcs` nearest `around` (the lower one on a tie)."""
    return min((around + d for d in range(-6, 7) if (around + d) % 12 in pcs), key=lambda p: (abs(p - around), p))


def held_tone(pcs: Sequence[int], around: int, pedals: Sequence[int] = ()) -> int:
    """The tone a resting part holds under a chord of pitch classes `pcs`: the first of `pedals` the chord
    holds, else its tone nearest `around`; in the octave nearest `around`."""
    pedal = next((p for p in pedals if p in pcs), None)
    return nearest_tone([pedal] if pedal is not None else pcs, around)


def hold_through(score: symusic.Score, changes: Sequence[tuple[float, tuple[int, str]]], end_beat: float,
                 beat_ticks: int, left_alone: Callable[[symusic.Track], bool] = lambda t: False,
                 pedals: Sequence[int] = ()) -> int:
    """Fill each pitched part's long rests in [0, `end_beat`) with held chord tones of `changes`
    ((beat, (root, quality)) in order); drop strays. Tracks `left_alone` (the bass, which fills its own
    rests) are not touched. Under a chord that holds one of `pedals` (pitch classes, first preferred)
    the part holds that. Returns the notes added."""
    end = int(round(end_beat * beat_ticks))
    if end <= 0 or not changes:
        return 0
    times = [int(round(b * beat_ticks)) for b, _ in changes]
    tones = [[(r + i) % 12 for i in QUALITY_INTERVALS.get(q, ())] for _, (r, q) in changes]
    bar = BEATS_PER_BAR * beat_ticks
    added = 0
    for track in score.tracks:
        if track.is_drum or left_alone(track):
            continue
        notes = [n for n in track.notes if n.time < end]
        if not notes:
            continue
        spans = sounding_spans(notes)
        if sum(min(b, end) - a for a, b in spans) < STRAY_BARS * bar:
            kept = [n for n in track.notes if n.time >= end]
            track.notes.clear()
            track.notes.extend(kept)
            continue
        register = int(np.median([n.pitch for n in notes]))
        velocity = max(int(np.median([n.velocity for n in notes])) - HOLD_SOFTER, 1)
        for a, b in rests(spans, end, HOLD_AFTER_BARS * bar):
            k = max(int(np.searchsorted(times, a, side="right")) - 1, 0)
            held: list[int] = []  # [start, pitch] of the note being held
            start = a
            while start < b and k < len(times):
                stop = min(times[k + 1] if k + 1 < len(times) else b, b)
                if held and held[1] % 12 in tones[k] and start - held[0] < TIE_BARS * bar:
                    pass  # a common tone is tied over the change, not struck again
                elif tones[k]:
                    if held:
                        track.notes.append(symusic.Note(held[0], start - held[0], held[1], velocity))
                    held = [start, held_tone(tones[k], register, pedals)]
                    added += 1
                k += 1
                start = stop
            if held:
                track.notes.append(symusic.Note(held[0], min(start, b) - held[0], held[1], velocity))
    return added


ENDING_ENTRY_VELOCITY = 72


def ending_joins(score: symusic.Score, changes: Sequence[tuple[float, tuple[int, str]]], beat_ticks: int) -> None:
    """Give the final chord's instrument, where the section has none of its own, the section's opening
    bar: the third of its first chord near middle C (`hold_through` then carries it on)."""
    ending = ending_track(score)
    if ending.notes or not changes:
        return
    root, quality = changes[0][1]
    intervals = QUALITY_INTERVALS.get(quality, ())
    if len(intervals) < 2:
        return
    ending.notes.append(symusic.Note(int(round(changes[0][0] * beat_ticks)), BEATS_PER_BAR * beat_ticks,
                                     60 + (root + intervals[1]) % 12, ENDING_ENTRY_VELOCITY))
