"""The loudness target is reached under a true-peak ceiling, where a peak-stopped gain fell short."""

from __future__ import annotations

import numpy as np
import pyloudnorm as pyln
import pytest

from emsync_models.render.audio import clipped_samples, normalise_loudness
from emsync_models.render.limiter import MAX_GAIN_REDUCTION_DB, limit, true_peak

SR = 44100


def _quiet_with_peaks(peak: float = 0.9, bed: float = 0.1, length: int = 4000) -> np.ndarray:
    """A steady bed with a few loud strikes: the shape of a piece with one loud chord."""
    t = np.arange(SR * 12) / SR
    x = bed * np.sin(2 * np.pi * 220 * t)
    rng = np.random.default_rng(0)
    for start in rng.integers(0, len(t) - length, 4):
        x[start:start + length] += peak * np.sin(2 * np.pi * 330 * t[:length]) * np.exp(-t[:length] * 20)
    return np.stack([x, x], axis=1).astype(np.float32)


def test_loudness_reaches_the_target_with_true_peaks_under_the_ceiling() -> None:
    audio = _quiet_with_peaks()
    meter = pyln.Meter(SR)
    # scaling alone would stop where the strikes meet -1 dBFS, several LU short of -16
    stopped = 10 ** (-1 / 20) / np.abs(audio).max()
    assert meter.integrated_loudness(audio * stopped) < -17.0
    out = normalise_loudness(audio, SR, -16.0)
    assert meter.integrated_loudness(out) == pytest.approx(-16.0, abs=0.2)
    assert 20 * np.log10(true_peak(out)) <= -1.0 + 1e-6
    assert clipped_samples(out) == 0 and np.isfinite(out).all()


def test_quiet_music_is_only_scaled() -> None:
    audio = _quiet_with_peaks(peak=0.0, bed=0.01)
    out = normalise_loudness(audio, SR, -16.0)
    ratio = out[1000:2000, 0] / audio[1000:2000, 0]
    assert np.allclose(ratio, ratio[0], rtol=1e-3)  # one gain: the limiter never touched it


def test_the_limiter_gives_up_loudness_rather_than_squash() -> None:
    audio = _quiet_with_peaks(peak=0.95, bed=0.005, length=200)  # clicks 45 dB above the bed
    out = normalise_loudness(audio, SR, -16.0)
    assert pyln.Meter(SR).integrated_loudness(out) < -16.5
    assert 20 * np.log10(true_peak(out)) <= -1.0 + 1e-6
    assert MAX_GAIN_REDUCTION_DB > 0


def test_limit_changes_nothing_under_the_ceiling() -> None:
    audio = _quiet_with_peaks() * 0.5
    assert np.array_equal(limit(audio, SR, 1.0), audio)
