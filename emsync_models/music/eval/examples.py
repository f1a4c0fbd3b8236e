"""Render contrasting examples (MIDI -> FluidSynth audio) and measure them, for the model card."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emsync_models.music.analysis.chords import chord_changes_from_notes
from emsync_models.music.analysis.descriptors import key_of, mode_score, note_density, pitch_class_histogram, polyphony
from emsync_models.music.notes import FAMILIES, midi_notes
from emsync_models.music.request import GenerationRequest, MusicGenerator

SOUNDFONTS = (Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))


def _audio_measurements(wav: Path) -> dict:
    import soundfile as sf

    audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    frame = 2048
    frames = mono[: len(mono) // frame * frame].reshape(-1, frame)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1))
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    energy = spectrum.sum(axis=1)
    centroid = (spectrum * freqs).sum(axis=1) / np.maximum(energy, 1e-9)
    return {
        "audio_seconds": len(mono) / sr,
        "rms_dbfs": float(20 * np.log10(np.sqrt(np.mean(mono**2)) + 1e-12)),
        "spectral_centroid_hz": float(np.average(centroid, weights=energy)) if energy.sum() > 0 else 0.0,
    }


def render_example(
    gen: MusicGenerator,
    valence: float,
    arousal: float,
    out_dir: Path,
    duration_s: float = 24.0,
    boundaries_s: tuple[float, ...] = (6.0, 12.0, 18.0),
    seed: int = 0,
    soundfont: Path | None = None,
) -> dict:
    """Generate, write MIDI (+ WAV when FluidSynth and a SoundFont exist) and return measurements."""
    req = GenerationRequest(duration_s, boundaries_s, ((0.0, valence, arousal),), seed=seed)
    music = gen.generate(req)
    stem = f"example_v{valence:+.1f}_a{arousal:+.1f}".replace(".", "p")
    out_dir.mkdir(parents=True, exist_ok=True)
    midi_path = out_dir / f"{stem}.mid"
    music.midi.write(str(midi_path))
    notes = midi_notes(music.midi)
    hist = pitch_class_histogram(notes)
    tonic, mode, corr = key_of(hist)
    result: dict = {
        "valence": valence,
        "arousal": arousal,
        "seed": seed,
        "midi": str(midi_path),
        "tokens": len(music.tokens),
        "notes": len(notes),
        "key": f"{['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'][tonic]} {mode} (r={corr:.2f})",
        "mode_score": mode_score(hist),
        "note_density_per_s": note_density(notes, duration_s),
        "polyphony": polyphony(notes),
        "mean_pitch": float(np.mean([n.pitch for n in notes if n.family != 0])) if notes else float("nan"),
        "instruments": sorted({FAMILIES[n.family] for n in notes}),
        "boundaries_s": list(boundaries_s),
        "chord_markers_s": music.chord_marker_times_s,
        "analysed_chord_changes_s": chord_changes_from_notes(notes),
    }
    font = soundfont or next((f for f in SOUNDFONTS if f.is_file()), None)
    if font is not None:
        from emsync_models.render.audio import render_midi

        wav = out_dir / f"{stem}.wav"
        render_midi(midi_path, wav, font, duration_s=duration_s)
        result["wav"] = str(wav)
        result.update(_audio_measurements(wav))
    return result


def main() -> None:
    """python -m emsync_models.music.eval.examples [OUT_DIR]: the model card's two contrasting examples."""
    import json
    import sys

    import torch

    from emsync_models.music.v1.generator import load_generator

    torch.set_num_threads(1)
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out/music_examples")
    gen = load_generator()
    results = [render_example(gen, v, a, out_dir) for v, a in ((0.8, 0.8), (-0.8, -0.8))]
    (out_dir / "examples.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
