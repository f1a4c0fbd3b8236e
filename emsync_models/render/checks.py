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


class SoundtrackCheck:
    """`check_soundtrack`'s measures gathered a block at a time, for a render too long to hold whole.
    The spectrum is averaged over each block's Welch segments (segments across block edges are left
    out; over a whole array in one block it is exactly Welch's average)."""

    def __init__(self, sample_rate: int, frames: int) -> None:
        self.sample_rate, self.frames = sample_rate, frames
        self._segment = min(4096, frames)
        self._values = self._squares = self._clipped = 0
        self._finite = True
        self._power: np.ndarray | None = None
        self._segments = 0

    def feed(self, block: np.ndarray) -> None:
        from scipy.signal import welch

        self._values += block.size
        self._finite = self._finite and bool(np.isfinite(block).all())
        self._squares += float(np.sum(np.square(block, dtype=np.float64)))
        self._clipped += int(np.count_nonzero(np.abs(block) >= CLIP_LEVEL))
        mono = block.mean(axis=1) if block.ndim == 2 else block
        if self._segment < 256 or len(mono) < self._segment:
            return
        _, power = welch(mono.astype(np.float64), fs=self.sample_rate, nperseg=self._segment)
        count = (len(mono) - self._segment) // (self._segment // 2) + 1
        self._power = power * count if self._power is None else self._power + power * count
        self._segments += count

    def flatness(self) -> float:
        """Flatness of the Welch-averaged power spectrum of the mono mix (0: tonal .. 1: white noise)."""
        if self._power is None:
            return 0.0
        power = self._power[1:] / self._segments + 1e-30  # DC says nothing about noise
        return float(np.exp(np.mean(np.log(power))) / np.mean(power))

    def verify(self) -> None:
        """Raise `RenderCheckFailed` naming what is wrong with what was fed."""
        if self._values == 0:
            raise RenderCheckFailed("the render holds no audio")
        if not self._finite:
            raise RenderCheckFailed("the render holds NaN or infinite samples")
        rms = np.sqrt(self._squares / self._values)
        level = 20 * np.log10(rms) if rms > 0 else float("-inf")
        if level < SILENCE_DBFS:
            raise RenderCheckFailed(f"the render is silent ({level:.1f} dBFS RMS)")
        if self._clipped:
            raise RenderCheckFailed(f"the render is clipped ({self._clipped} samples at full scale)")
        flatness = self.flatness()
        if flatness > NOISE_FLATNESS:
            raise RenderCheckFailed(f"the render is noise, not music (spectral flatness {flatness:.2f})")


def check_soundtrack(audio: np.ndarray, sample_rate: int) -> None:
    """Raise `RenderCheckFailed` naming what is wrong with a rendered soundtrack (float, frames x channels)."""
    check = SoundtrackCheck(sample_rate, len(audio))
    check.feed(audio)
    check.verify()
