"""The render's block-at-a-time passes give what the whole signal in memory gives, in bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pretty_midi
import pyloudnorm as pyln
import pytest
import soundfile as sf

from emsync_models.render import limiter
from emsync_models.render import parts as parts_module
from emsync_models.render.ducking import Ducking, duck, duck_file
from emsync_models.render.loudness import LoudnessMeter
from emsync_models.render.parts import FittedPart, RawAudio
from flows.settings import KNOWN_SOUNDFONTS

SR = 44100


def _music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise under a slow swell with a few loud hits: something for the meter's gates and the limiter."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    audio = rng.standard_normal((n, 2)) * np.linspace(0.005, 0.2, n)[:, None]
    for start in rng.integers(0, n - 3000, 12):
        audio[start:start + 400] += rng.uniform(0.5, 1.5)
    return audio.astype(np.float32)


@pytest.mark.parametrize("block", [1000, 4096, 100_003, 10**9])
def test_the_meter_reads_as_pyloudnorm_whatever_the_blocks(block: int) -> None:
    audio = _music_like(9.3)
    meter = LoudnessMeter(SR, len(audio))
    for start in range(0, len(audio), block):
        meter.feed(audio[start:start + block])
    assert meter.integrated() == pytest.approx(pyln.Meter(SR).integrated_loudness(audio.astype(np.float64)),
                                               abs=1e-9)


def test_silence_reads_minus_infinity() -> None:
    meter = LoudnessMeter(SR, SR)
    meter.feed(np.zeros((SR, 2)))
    assert meter.integrated() == float("-inf")


def test_the_master_gain_is_the_same_in_small_blocks_as_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    audio = _music_like(20.0, seed=3)
    whole = limiter.loudness_gain(audio, SR, -16.0)
    monkeypatch.setattr(parts_module, "BLOCK_FRAMES", 30_011)
    blocked = limiter.loudness_gain(audio, SR, -16.0)
    assert whole is not None and blocked is not None
    assert whole.min() < 0.9 * whole.max()  # the limiter worked on the hits
    np.testing.assert_allclose(blocked, whole, rtol=1e-12, atol=0)
    out = audio * blocked[:, None]
    assert pyln.Meter(SR).integrated_loudness(out) == pytest.approx(-16.0, abs=0.1)
    assert limiter.true_peak(out) <= 10 ** (-1.0 / 20) + 1e-9


def test_ducking_a_file_in_blocks_matches_ducking_it_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audio = _music_like(6.0, seed=5) * 0.3
    source = tmp_path / "music.wav"
    sf.write(source, audio, SR, subtype="PCM_24")
    music, _ = sf.read(source, dtype="float32", always_2d=True)
    spans = [(0.5, 1.7), (2.9, 4.4), (5.6, 6.5)]
    ducking = Ducking()
    expected = duck(music, spans, SR, ducking)
    monkeypatch.setattr(parts_module, "BLOCK_FRAMES", 44_099)
    got, _ = sf.read(duck_file(source, tmp_path / "ducked.wav", spans, ducking), dtype="float64", always_2d=True)
    assert np.abs(got - expected).max() <= 2.0 / 2**23  # the 24-bit file's own rounding


def test_a_fitted_part_fades_as_the_whole_array_does(tmp_path: Path) -> None:
    from emsync_models.render.audio import fade_out, fit_length

    audio = _music_like(3.0, seed=7)
    raw = tmp_path / "part.raw"
    raw.write_bytes(audio.astype("<f4").tobytes())
    for frames in (len(audio) - 5000, len(audio) + 7000):
        part = FittedPart(RawAudio(raw, len(audio)), frames, int(0.6 * SR))
        blocked = np.concatenate([part.read(a, min(a + 9973, frames)) for a in range(0, frames, 9973)])
        np.testing.assert_array_equal(blocked, fade_out(fit_length(audio, frames), SR))


def test_rendering_a_long_piece_holds_a_few_blocks_not_the_piece(tmp_path: Path) -> None:
    """Four minutes in two parts: held whole, the parts, their sum and the gain would be over 200 MB."""
    from emsync_models.render.audio import render_midi

    soundfont = next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)
    if soundfont is None:
        pytest.skip("no General MIDI SoundFont installed")

    seconds = 240.0
    midis = []
    for name, program, pitch in (("piano", 0, 60), ("strings", 48, 67)):
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program, name=name)
        inst.notes = [pretty_midi.Note(80, pitch + (k % 5), k * 0.5, k * 0.5 + 0.45) for k in range(int(seconds * 2))]
        pm.instruments.append(inst)
        path = tmp_path / f"{name}.mid"
        pm.write(str(path))
        midis.append(path)
    stems = [(m, tmp_path / f"{m.stem}.wav") for m in midis]
    tracemalloc.start()
    try:
        render_midi(midis[0], tmp_path / "mix.wav", soundfont, duration_s=seconds, stems=stems, work_dir=tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sf.info(str(tmp_path / "mix.wav")).frames == int(seconds * SR)
    assert peak < 120e6, f"{peak / 1e6:.0f} MB traced at the peak"
    mix, _ = sf.read(tmp_path / "mix.wav", dtype="float64")
    parts = sum(sf.read(w, dtype="float64")[0] for _, w in stems)
    assert np.abs(mix - parts).max() < 1e-5
    assert pyln.Meter(SR).integrated_loudness(mix) == pytest.approx(-16.0, abs=0.1)


def test_a_fresh_synthesiser_takes_over_before_the_sample_counter_wraps(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """FluidSynth counts a synthesiser's samples in 32 bits: a 2-hour piece's 14th stem crossed the wrap."""
    from emsync_models.render import fluid_lib

    soundfont = next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)
    if soundfont is None:
        pytest.skip("no General MIDI SoundFont installed")
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(11)
    inst.notes = [pretty_midi.Note(90, 60 + k, k * 0.4, k * 0.4 + 0.3) for k in range(8)]
    pm.instruments.append(inst)
    midi = tmp_path / "vib.mid"
    pm.write(str(midi))
    made = []
    real = fluid_lib._new_synth
    monkeypatch.setattr(fluid_lib, "_new_synth", lambda *a: made.append(1) or real(*a))
    monkeypatch.setattr(fluid_lib, "TICK_LIMIT", 3 * int(5.0 * SR))  # two 5 s renders per synthesiser
    outs = [tmp_path / f"{k}.raw" for k in range(5)]
    frames = fluid_lib.render_files([midi] * 5, outs, soundfont, sample_rate=SR, gain=0.1, max_s=5.0)
    assert len(made) == 3 and all(n == frames[0] for n in frames)
    # A synthesiser's first render is the same bytes whichever synthesiser made it (the second render of
    # one differs a little: its modulators carry on from the first).
    renders = [out.read_bytes() for out in outs]
    assert renders[0] == renders[2] == renders[4] and renders[1] == renders[3]


def test_fifteen_pitched_tracks_and_drums_each_get_a_channel(tmp_path: Path) -> None:
    """pretty_midi alone put the 16th instrument on channel 0 beside the first (a 2-hour piece's case)."""
    import mido

    from emsync_models.render.midi_file import write_midi

    pm = pretty_midi.PrettyMIDI()
    for k in range(16):
        inst = pretty_midi.Instrument(0 if k == 3 else 20 + k, is_drum=k == 3)
        inst.notes = [pretty_midi.Note(80, 36 if k == 3 else 60, 0.0, 1.0)]
        pm.instruments.append(inst)
    path = write_midi(pm, tmp_path / "many.mid", 2.0)
    programs: dict[int, set[int]] = {}
    for track in mido.MidiFile(str(path)).tracks:
        for message in track:
            if message.type == "program_change":
                programs.setdefault(message.channel, set()).add(message.program)
    assert len(programs) == 16 and all(len(p) == 1 for p in programs.values())
    back = pretty_midi.PrettyMIDI(str(path))
    assert sorted(i.program for i in back.instruments if not i.is_drum) == [20 + k for k in range(16) if k != 3]
