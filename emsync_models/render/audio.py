"""MIDI → audio with FluidSynth and a General MIDI SoundFont, loudness-normalised without clipping."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pyloudnorm as pyln
import soundfile as sf

_PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS: headroom for lossy encoders that overshoot


class RenderError(RuntimeError):
    """The renderer itself failed (missing binary, bad SoundFont): an environment problem."""


def render_midi(midi_path: Path, wav_path: Path, soundfont: Path, *, sample_rate: int = 44100,
                duration_s: float | None = None, target_lufs: float = -16.0, threads: int = 1) -> Path:
    """Render with the `fluidsynth` CLI, then trim/pad to `duration_s` and normalise loudness.

    `threads`: FluidSynth's `synth.cpu-cores` (its own pool, outside every other library's budget).
    """
    from emsync_models.threads import fluidsynth_options

    binary = shutil.which("fluidsynth")
    if binary is None:
        raise RenderError("fluidsynth is not installed (Debian package 'fluidsynth')")
    if not soundfont.is_file():
        raise RenderError(f"{soundfont}: SoundFont not found (Debian package 'timgm6mb-soundfont')")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        cmd = [binary, "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), *fluidsynth_options(threads),
               "-F", str(raw), str(soundfont), str(midi_path)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not raw.is_file():
            raise RenderError(f"fluidsynth failed: {done.stderr.strip()[-400:]}")
        audio, sr = sf.read(raw, dtype="float32", always_2d=True)
    if duration_s is not None:
        audio = fit_length(audio, round(duration_s * sr))
    audio = normalise_loudness(audio, sr, target_lufs)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(wav_path, audio, sr, subtype="PCM_16")
    return wav_path


def fit_length(audio: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad to exactly `frames`, with a short fade so a trim does not click."""
    if len(audio) >= frames:
        out = audio[:frames].copy()
        fade = min(len(out), 2048)
        out[len(out) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        return out
    pad = np.zeros((frames - len(audio), audio.shape[1]), dtype=audio.dtype)
    return np.concatenate([audio, pad])


def normalise_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    """Bring integrated loudness (ITU-R BS.1770, via pyloudnorm) to `target_lufs`, never clipping."""
    meter = pyln.Meter(sample_rate)
    if len(audio) < meter.block_size * sample_rate:
        return audio
    current = meter.integrated_loudness(audio)
    if not np.isfinite(current):
        return audio  # silence: nothing to normalise
    gain = 10 ** ((target_lufs - current) / 20)
    peak = float(np.max(np.abs(audio))) * gain
    if peak > _PEAK_CEILING:
        gain *= _PEAK_CEILING / peak  # give up loudness before headroom
    return (audio * gain).astype(np.float32)
