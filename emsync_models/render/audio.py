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
                duration_s: float | None = None, target_lufs: float = -16.0) -> Path:
    """Render with the `fluidsynth` CLI, then trim/pad to `duration_s`, fade out and normalise loudness."""
    audio, sr = synthesize(midi_path, soundfont, sample_rate=sample_rate)
    if duration_s is not None:
        audio = fit_length(audio, round(duration_s * sr))
        audio = fade_out(audio, sr)
    audio = normalise_loudness(audio, sr, target_lufs)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(wav_path, audio, sr, subtype="PCM_16")
    return wav_path


def synthesize(midi_path: Path, soundfont: Path, *, sample_rate: int = 44100) -> tuple[np.ndarray, int]:
    """The raw FluidSynth render as float32 (frames, channels), before any gain or normalisation."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise RenderError("fluidsynth is not installed (Debian package 'fluidsynth')")
    if not soundfont.is_file():
        raise RenderError(f"{soundfont}: SoundFont not found (Debian package 'timgm6mb-soundfont')")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        # Float output keeps peaks above full scale instead of clipping them; the gain that matters is
        # applied afterwards by loudness normalisation, under a peak ceiling.
        cmd = [binary, "-ni", "-q", "-g", "0.5", "-o", "audio.file.format=float", "-r", str(sample_rate),
               "-F", str(raw), str(soundfont), str(midi_path)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not raw.is_file():
            raise RenderError(f"fluidsynth failed: {done.stderr.strip()[-400:]}")
        audio, sr = sf.read(raw, dtype="float32", always_2d=True)
    return audio, sr


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


FADE_S = 0.6


def fade_out(audio: np.ndarray, sample_rate: int, seconds: float = FADE_S) -> np.ndarray:
    """A short linear fade at the end: the final chord rings and then fades with the picture."""
    n = min(len(audio), int(seconds * sample_rate))
    if n:
        audio = audio.copy()
        audio[len(audio) - n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
    return audio


def clipped_samples(audio: np.ndarray) -> int:
    """Samples at or beyond full scale (what a 16-bit render would have clipped)."""
    return int(np.count_nonzero(np.abs(audio) >= 1.0))
