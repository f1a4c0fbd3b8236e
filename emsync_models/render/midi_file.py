"""Writing the soundtrack's MIDI so that every note it starts also ends, before the music does.

A note shorter than one MIDI tick becomes a note-on and a note-off on the same tick; writers order the
off first, so the note-on is never released and FluidSynth renders a sustained voice forever. Notes are
therefore given at least `MIN_TICKS` ticks, and every note ends by `end_s`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pretty_midi

MIN_TICKS = 2


def playable_notes(midi: pretty_midi.PrettyMIDI, end_s: float | None) -> pretty_midi.PrettyMIDI:
    """A copy of `midi` in which each note lasts at least `MIN_TICKS` ticks and is released by `end_s`.

    Notes starting at or after `end_s` (or too close to it to last `MIN_TICKS`) are dropped.
    """
    out = copy.deepcopy(midi)
    for instrument in out.instruments:
        kept: list[pretty_midi.Note] = []
        for note in instrument.notes:
            start, end = float(note.start), float(note.end)
            if end_s is not None:
                end = min(end, end_s)
            if out.time_to_tick(end) - out.time_to_tick(start) < MIN_TICKS:
                end = out.tick_to_time(out.time_to_tick(start) + MIN_TICKS)
            if end_s is not None and end > end_s:
                continue
            note.start, note.end = start, end
            kept.append(note)
        instrument.notes = kept
    return out


def write_midi(midi: pretty_midi.PrettyMIDI, path: Path, end_s: float | None) -> Path:
    """Write `midi` with every note released before `end_s` and none shorter than `MIN_TICKS`."""
    playable_notes(midi, end_s).write(str(path))
    return path
