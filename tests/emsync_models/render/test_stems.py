"""Stems rendered with the real FluidSynth and SoundFont sum to the mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from emsync_models.render.audio import render_midi
from emsync_models.render.midi_file import playable_notes
from emsync_models.render.stems import stem_midis
from flows.settings import KNOWN_SOUNDFONTS


def ensemble(seconds: float) -> pretty_midi.PrettyMIDI:
    """Piano chords, a sustained string line ringing past its notes' end, and a drum pattern."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=100)
    piano, strings = pretty_midi.Instrument(program=0), pretty_midi.Instrument(program=48)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    rng = np.random.default_rng(0)
    for i in range(int(seconds / 0.6)):
        t = i * 0.6
        for pitch in (60, 64, 67) if i % 2 else (57, 60, 64):
            piano.notes.append(pretty_midi.Note(int(rng.integers(70, 120)), pitch, t, t + 0.5))
        drums.notes.append(pretty_midi.Note(100, 36 if i % 2 == 0 else 38, t, t + 0.1))
    strings.notes.append(pretty_midi.Note(90, 48, 0.0, seconds / 2))  # ends early: its tail must survive
    midi.instruments += [piano, strings, drums]
    return midi


def test_stems_sum_to_the_mix(tmp_path: Path) -> None:
    soundfont = next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)
    if soundfont is None:
        pytest.skip("no General MIDI SoundFont installed")
    duration = 8.0
    midi = playable_notes(ensemble(duration), duration)
    mix_midi = tmp_path / "mix.mid"
    midi.write(str(mix_midi))
    parts = stem_midis(midi, tmp_path)
    assert [name for name, _ in parts] == ["01-acoustic-grand-piano", "02-string-ensemble-1", "03-drums"]
    stems = [(path, tmp_path / f"{name}.wav") for name, path in parts]
    render_midi(mix_midi, tmp_path / "mix.wav", soundfont, duration_s=duration, stems=stems)
    mix, sr = sf.read(tmp_path / "mix.wav", dtype="float64")
    total = sum(sf.read(wav, dtype="float64")[0] for _, wav in stems)
    assert total.shape == mix.shape and sr == 44100
    for _, wav in stems:
        assert np.sqrt(np.mean(sf.read(wav)[0] ** 2)) > 1e-4, f"{wav.name} is silent"
    error_db = 20 * np.log10(np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix ** 2)))
    assert error_db < -60.0, f"stems differ from the mix by {error_db:.1f} dB"
