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
    write_channels(playable_notes(midi, end_s), path)
    return path


DRUM_CHANNEL = 9
MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)


def write_channels(midi: pretty_midi.PrettyMIDI, path: Path) -> Path:
    """`midi` written with each pitched track on a channel of its own, as long as there are channels.

    pretty_midi hands out the 15 melodic channels counting the drum track too, so a piece with drums
    and 15 pitched tracks (a 2-hour piece has them) put two instruments on channel 0, where the later
    program change played both. Here the n-th pitched track takes the n-th melodic channel."""
    import mido

    midi.write(str(path))
    song = mido.MidiFile(str(path))
    pitched = 0
    # pretty_midi writes one track per instrument after its timing track, in the instruments' order
    for instrument, track in zip(midi.instruments, song.tracks[1:], strict=False):
        channel = DRUM_CHANNEL if instrument.is_drum else MELODIC_CHANNELS[pitched % len(MELODIC_CHANNELS)]
        pitched += 0 if instrument.is_drum else 1
        for message in track:
            if hasattr(message, "channel"):
                message.channel = channel
    song.save(str(path))
    return path
