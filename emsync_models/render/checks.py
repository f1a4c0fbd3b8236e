"""What a rendered soundtrack must be before anyone keeps it: finite, audible, unclipped, and music
rather than noise. A render that fails here is a failed job (an environment problem: a full disk, a
broken SoundFont, a bad setting that slipped through), never a stored success."""

from __future__ import annotations

import numpy as np

SILENCE_DBFS = -60.0  # a whole render this quiet (RMS) is silence, not music
CLIP_LEVEL = 0.999  # at or above: clipped (the renderer leaves 1 dB of headroom)
# Spectral flatness (geometric over arithmetic mean of the averaged power spectrum): white noise is
# near 1, any GM SoundFont rendering of notes is far below (most energy sits in a few partials).
NOISE_FLATNESS = 0.5


class RenderCheckFailed(RuntimeError):
    """The rendered audio is not a usable soundtrack."""


def rms_dbfs(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def spectral_flatness(audio: np.ndarray, sample_rate: int) -> float:
    """Flatness of the Welch-averaged power spectrum of the mono mix (0: tonal .. 1: white noise)."""
    from scipy.signal import welch

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    if len(mono) < 256:
        return 0.0
    _, power = welch(mono.astype(np.float64), fs=sample_rate, nperseg=min(4096, len(mono)))
    power = power[1:] + 1e-30  # DC says nothing about noise
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


def check_soundtrack(audio: np.ndarray, sample_rate: int) -> None:
    """Raise `RenderCheckFailed` naming what is wrong with a rendered soundtrack (float, frames x channels)."""
    if audio.size == 0:
        raise RenderCheckFailed("the render holds no audio")
    if not np.isfinite(audio).all():
        raise RenderCheckFailed("the render holds NaN or infinite samples")
    level = rms_dbfs(audio)
    if level < SILENCE_DBFS:
        raise RenderCheckFailed(f"the render is silent ({level:.1f} dBFS RMS)")
    clipped = int(np.count_nonzero(np.abs(audio) >= CLIP_LEVEL))
    if clipped:
        raise RenderCheckFailed(f"the render is clipped ({clipped} samples at full scale)")
    flatness = spectral_flatness(audio, sample_rate)
    if flatness > NOISE_FLATNESS:
        raise RenderCheckFailed(f"the render is noise, not music (spectral flatness {flatness:.2f})")
