"""Notes in seconds, the one currency every generator, the corpus and the analysis share.

`Note` keeps family (LPD-5: drums, piano, guitar, bass, strings; family 0 = drums), pitch on the 88
piano keys, velocity and start/end in seconds. v1's tokenizer promises to keep exactly this; v2's MIDI
is read back into it (`midi_notes`) so that every measure sees both generators, and the corpus, alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the model's training path (a bare GPU image) never needs it
    import pretty_midi

FAMILIES: tuple[str, ...] = ("drums", "piano", "guitar", "bass", "strings")
# General MIDI programs LPD-5 uses for each family when writing MIDI back out.
FAMILY_PROGRAMS: dict[str, int] = {"drums": 0, "piano": 0, "guitar": 24, "bass": 32, "strings": 48}
PITCH_LOW, PITCH_HIGH = 21, 108  # the 88 keys of a piano

def family_of(instrument: pretty_midi.Instrument) -> int:
    """LPD-5 family index of a pretty_midi instrument (GM program ranges; leftovers go to strings)."""
    if instrument.is_drum:
        return 0
    program = instrument.program
    if program < 24:  # pianos, chromatic percussion, organs
        return 1
    if program < 32:
        return 2
    if program < 40:
        return 3
    return 4


@dataclass(frozen=True)
class Note:
    """One note in family/pitch/velocity/seconds form: what the tokenizer promises to keep."""

    family: int
    pitch: int
    velocity: int
    start: float
    end: float


def midi_notes(midi: pretty_midi.PrettyMIDI) -> list[Note]:
    """All notes of a MIDI file mapped to the five families and the 88-key range.

    Pitched notes outside the range are folded by octaves (keeps the harmony); drum hits outside it are
    dropped (GM drum keys all lie inside it).
    """
    notes: list[Note] = []
    for instrument in midi.instruments:
        family = family_of(instrument)
        for n in instrument.notes:
            pitch = n.pitch
            if family == 0 and not PITCH_LOW <= pitch <= PITCH_HIGH:
                continue
            while pitch < PITCH_LOW:
                pitch += 12
            while pitch > PITCH_HIGH:
                pitch -= 12
            notes.append(Note(family, pitch, n.velocity, n.start, n.end))
    return notes


def notes_to_midi(notes: Sequence[Note]) -> pretty_midi.PrettyMIDI:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    instruments: dict[int, pretty_midi.Instrument] = {}
    for n in notes:
        if n.family not in instruments:
            name = FAMILIES[n.family]
            instruments[n.family] = pretty_midi.Instrument(
                program=FAMILY_PROGRAMS[name], is_drum=n.family == 0, name=name
            )
        instruments[n.family].notes.append(pretty_midi.Note(n.velocity, n.pitch, n.start, n.end))
    midi.instruments = [instruments[f] for f in sorted(instruments)]
    return midi
