"""Several MIDI files rendered by one FluidSynth synthesiser (libfluidsynth through ctypes), the SoundFont
loaded once.

A mix rendered as the sum of its instruments needs one render per instrument. The `fluidsynth` command
loads the SoundFont again for each: MuseScore General's 40 MB of Vorbis-compressed samples took 2.8 CPU-s
per load here, so seven stems cost 20 s before a note was played. Here one synthesiser loads it once
and plays each file from a full reset (voices, controllers, reverb and chorus), driven sample by sample
exactly as the command's fast file renderer drives it (`player.timing-source=sample`): every render
starts at sample 0 of its own, so the parts line up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_PLAYING, _STOPPING = 1, 2  # enum fluid_player_status
BLOCK = 4096  # frames per write call (the synth still runs its 64-frame blocks and player ticks inside)
TICK_LIMIT = 1 << 31  # samples one synthesiser makes before a fresh one takes over (its counter wraps at 2^32)


class FluidLibraryError(RuntimeError):
    """libfluidsynth is missing or refused a call (an environment problem)."""


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("fluidsynth")
    if name is None:
        raise FluidLibraryError("libfluidsynth is not installed (Debian package 'libfluidsynth3')")
    lib = ctypes.CDLL(name)
    for function in ("new_fluid_settings", "new_fluid_synth", "new_fluid_player"):
        getattr(lib, function).restype = ctypes.c_void_p
    lib.new_fluid_synth.argtypes = [ctypes.c_void_p]
    lib.new_fluid_player.argtypes = [ctypes.c_void_p]
    lib.fluid_settings_setnum.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double]
    lib.fluid_settings_setint.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.fluid_settings_setstr.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.fluid_synth_sfload.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.fluid_synth_system_reset.argtypes = [ctypes.c_void_p]
    lib.fluid_player_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.fluid_player_play.argtypes = [ctypes.c_void_p]
    lib.fluid_player_get_status.argtypes = [ctypes.c_void_p]
    lib.delete_fluid_player.argtypes = [ctypes.c_void_p]
    lib.delete_fluid_synth.argtypes = [ctypes.c_void_p]
    lib.delete_fluid_settings.argtypes = [ctypes.c_void_p]
    lib.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                            ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    return lib


def render_files(midi_paths: Sequence[Path], out_paths: Sequence[Path], soundfont: Path, *, sample_rate: int,
                 gain: float, max_s: float, min_s: float = 0.0, threads: int = 1) -> list[int]:
    """Each MIDI file rendered from silence until its player finishes (at most `max_s`) into its raw
    file (float32 little-endian, 2 channels interleaved), as `fluidsynth -F` would write it with the
    same gain; returns the frames each holds. Memory stays at one block whatever the length."""
    lib = _library()
    settings = lib.new_fluid_settings()
    synth = None
    try:
        for name, value in (("synth.sample-rate", float(sample_rate)), ("synth.gain", float(gain))):
            lib.fluid_settings_setnum(settings, name.encode(), value)
        lib.fluid_settings_setint(settings, b"synth.cpu-cores", max(1, int(threads)))
        lib.fluid_settings_setint(settings, b"synth.lock-memory", 0)
        lib.fluid_settings_setstr(settings, b"player.timing-source", b"sample")
        frames, used = [], 0
        for path, out in zip(midi_paths, out_paths, strict=True):
            # The synthesiser counts the samples it has made since it was created in 32 bits; past the
            # wrap (27 h at 44.1 kHz, reached by the 14th stem of a 2-hour piece) it fails to allocate
            # voices and a stem came out half as long as its MIDI. A fresh one (the SoundFont loaded
            # again) takes over well before that.
            if synth is None or used + int(max_s * sample_rate) + BLOCK > TICK_LIMIT:
                if synth:
                    lib.delete_fluid_synth(synth)
                synth, used = _new_synth(lib, settings, soundfont), 0
            frames.append(_render_one(lib, synth, path, out, sample_rate, max_s, min_s))
            used += -(-frames[-1] // BLOCK) * BLOCK + BLOCK
        return frames
    finally:
        if synth:
            lib.delete_fluid_synth(synth)
        lib.delete_fluid_settings(settings)


def _new_synth(lib: ctypes.CDLL, settings: int, soundfont: Path) -> int:
    synth = lib.new_fluid_synth(settings)
    if not synth:
        raise FluidLibraryError("libfluidsynth could not create a synthesiser")
    if lib.fluid_synth_sfload(synth, str(soundfont).encode(), 1) < 0:
        lib.delete_fluid_synth(synth)
        raise FluidLibraryError(f"{soundfont}: libfluidsynth could not load this SoundFont")
    return synth


def _render_one(lib: ctypes.CDLL, synth: int, midi_path: Path, out_path: Path, sample_rate: int, max_s: float,
                min_s: float) -> int:
    lib.fluid_synth_system_reset(synth)
    player = lib.new_fluid_player(synth)
    if not player:
        raise FluidLibraryError("libfluidsynth could not create a MIDI player")
    left, right = np.zeros(BLOCK, np.float32), np.zeros(BLOCK, np.float32)
    frames = np.zeros((BLOCK, 2), "<f4")
    try:
        if lib.fluid_player_add(player, str(midi_path).encode()) != 0 or lib.fluid_player_play(player) != 0:
            raise FluidLibraryError(f"{midi_path}: libfluidsynth could not play this MIDI file")
        cap = int(max_s * sample_rate)
        done = 0
        try:
            with out_path.open("wb") as out:
                # As the command's renderer: until the player has played the file to its end (or the cap).
                while done < cap and lib.fluid_player_get_status(player) in (_PLAYING, _STOPPING):
                    lib.fluid_synth_write_float(synth, BLOCK, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
                    keep = min(BLOCK, cap - done)
                    frames[:, 0], frames[:, 1] = left, right
                    out.write(frames[:keep].tobytes())
                    done += keep
        except OSError as exc:  # ENOSPC, EFBIG
            raise FluidLibraryError(f"{out_path}: could not write the render ({exc}); is the disk full?") from exc
    finally:
        lib.delete_fluid_player(player)
    written = out_path.stat().st_size // 8
    if written != done:  # a full disk
        raise FluidLibraryError(f"{out_path}: wrote {written} of {done} frames (is the disk full?)")
    if done / sample_rate + 1.0 / sample_rate < min_s:
        raise FluidLibraryError(f"{midi_path}: rendered {done / sample_rate:.2f} s of the {min_s:.2f} s it lasts")
    return done
