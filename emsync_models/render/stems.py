"""Per-instrument parts of a piece (stems): one MIDI per track, each as long as the whole piece.

A stem keeps every track of the piece (programs, channels, controllers) but the notes of its own, so
FluidSynth plays it on the same channel with the same settings as in the mix; a silent controller at
the piece's end keeps the player running as long as for the mix, so no release or reverb tail is cut.
Rendered with the mix's gain (`audio.render_midi(stems=...)`) the stems sum to the mix.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pretty_midi

from emsync_models.render.midi_file import write_channels

UNUSED_CONTROLLER = 110  # undefined in General MIDI: a synthesiser ignores it


def stem_name(index: int, instrument: pretty_midi.Instrument) -> str:
    """`01-acoustic-grand-piano`, `02-drums`: the track's order and its instrument in plain words."""
    words = "drums" if instrument.is_drum else pretty_midi.program_to_instrument_name(instrument.program)
    slug = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-") or "track"
    return f"{index + 1:02d}-{slug}"


def stem_midis(midi: pretty_midi.PrettyMIDI, folder: Path) -> list[tuple[str, Path]]:
    """Write one MIDI per track that has notes into `folder`; (stem name, path) in track order.

    `midi` must already be the playable MIDI that is rendered as the mix (`midi_file.playable_notes`)."""
    end = midi.get_end_time()
    out: list[tuple[str, Path]] = []
    for index, instrument in enumerate(midi.instruments):
        if not instrument.notes:
            continue
        part = copy.deepcopy(midi)
        for other_index, other in enumerate(part.instruments):
            if other_index != index:
                other.notes = []
        part.instruments[index].control_changes.append(
            pretty_midi.ControlChange(number=UNUSED_CONTROLLER, value=0, time=end))
        name = stem_name(index, instrument)
        path = folder / f"{name}.mid"
        write_channels(part, path)
        out.append((name, path))
    return out
