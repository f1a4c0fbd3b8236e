"""Dialogue-aware mixing: the music's side-chain gain from where someone speaks.

The speech spans come from the voice-activity detector the speech extractor already runs (pocketsphinx's
endpointer), so the music knows ahead of time where each phrase starts: the gain reaches its depth as
the phrase begins (the attack ends on the first syllable instead of eating it), holds through the
phrase and returns over the release once it ends. Gaps shorter than `bridge_s` (breaths between words
of one phrase) stay ducked, so the music does not pump between words. Ramps are linear in dB.

Under speech the music's speech band (150 Hz-6 kHz: voices' fundamentals up to their sibilants) goes
down `carve_db` further than the rest, as a dialogue mixer carves a pocket with an EQ: the sub-bass and
the air keep the music present while the band that masks words clears. The defaults (-15 dB, a further
-12 dB in the band) put speech about 20 dB over music of the same loudness, the margin WCAG 1.4.7 asks
of background sound under speech. The band is split off with a zero-phase filter and the rest is the
music minus the band, so where the gain is 0 dB the music is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Ducking:
    depth_db: float = -15.0  # the music's gain while someone speaks
    attack_s: float = 0.03  # down to the depth, ending where the phrase starts
    release_s: float = 0.08  # back to full level, starting where the phrase ends
    bridge_s: float = 0.3  # gaps shorter than this stay ducked
    carve_db: float = -12.0  # the speech band's further gain at full depth
    band_hz: tuple[float, float] = (150.0, 6000.0)

    def __post_init__(self) -> None:
        if not -60.0 <= self.depth_db <= 0.0:
            raise ValueError(f"ducking depth {self.depth_db} dB is outside [-60, 0]")
        if not -60.0 <= self.carve_db <= 0.0:
            raise ValueError(f"speech-band carve {self.carve_db} dB is outside [-60, 0]")
        if not 0.0 < self.band_hz[0] < self.band_hz[1]:
            raise ValueError(f"speech band {self.band_hz} Hz is not a rising pair of positive frequencies")
        if self.attack_s < 0 or self.release_s < 0 or self.bridge_s < 0:
            raise ValueError("attack, release and bridge must not be negative")


def merge_spans(spans: Sequence[tuple[float, float]], bridge_s: float) -> list[tuple[float, float]]:
    """Sorted spans, overlapping ones and those closer than `bridge_s` joined."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted((float(s), float(e)) for s, e in spans if e > s):
        if merged and start - merged[-1][1] < bridge_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def gain_curve_db(spans: Sequence[tuple[float, float]], frames: int, sample_rate: int,
                  ducking: Ducking, start: int = 0) -> np.ndarray:
    """Per-sample gain in dB (0: untouched, `depth_db`: under speech), float64 [frames], for the
    `frames` frames from frame `start` of the music."""
    gain = np.zeros(frames, np.float64)
    attack, release = ducking.attack_s * sample_rate, ducking.release_s * sample_rate
    for start_s, end_s in merge_spans(spans, ducking.bridge_s):
        begin, end = start_s * sample_rate, end_s * sample_rate
        first = max(start, int(np.floor(begin - attack)))
        last = min(start + frames, int(np.ceil(end + release)) + 1)
        if first >= last:
            continue
        n = np.arange(first, last, dtype=np.float64)
        # 1 inside the phrase, a straight ramp each side: the deepest of attack-in and release-out.
        into = np.clip((n - (begin - attack)) / attack, 0.0, 1.0) if attack > 0 else (n >= begin).astype(float)
        out_of = np.clip(((end + release) - n) / release, 0.0, 1.0) if release > 0 else (n <= end).astype(float)
        depth = ducking.depth_db * np.minimum(into, out_of)
        gain[first - start:last - start] = np.minimum(gain[first - start:last - start], depth)
    return gain


def speech_band(music: np.ndarray, sample_rate: int, band_hz: tuple[float, float]) -> np.ndarray:
    """The part of `music` (frames, channels) inside `band_hz`, zero-phase (no shift against the rest)."""
    from scipy.signal import butter, sosfiltfilt

    high = min(band_hz[1], 0.45 * sample_rate)
    sos = butter(4, [band_hz[0], high], btype="bandpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, music, axis=0) if len(music) > 27 else np.zeros_like(music)


def duck(music: np.ndarray, spans: Sequence[tuple[float, float]], sample_rate: int,
         ducking: Ducking, start: int = 0, band: np.ndarray | None = None) -> np.ndarray:
    """`music` (frames, channels; its first frame is frame `start` of the piece) with the side-chain
    gain applied, float32. `band`: the music's speech band, where the caller filtered it already."""
    gain = gain_curve_db(spans, len(music), sample_rate, ducking, start)
    whole = music.astype(np.float64)
    if ducking.carve_db == 0.0 or ducking.depth_db == 0.0 or not gain.any():
        return (whole * (10.0 ** (gain / 20.0))[:, None]).astype(np.float32)
    band = speech_band(whole, sample_rate, ducking.band_hz) if band is None else band
    band_gain = gain + ducking.carve_db * (gain / ducking.depth_db)  # the carve follows the duck's ramps
    out = (whole - band) * (10.0 ** (gain / 20.0))[:, None] + band * (10.0 ** (band_gain / 20.0))[:, None]
    return out.astype(np.float32)


# The band filter runs forwards and backwards; read this far past each side of a block, its start-up
# transient has died away (a 4th-order band-pass from 150 Hz settles within tens of milliseconds), so a
# block's band is the whole signal's to within rounding.
BAND_MARGIN_S = 1.0


def duck_file(source: Path, out: Path, spans: Sequence[tuple[float, float]], ducking: Ducking) -> Path:
    """`duck` applied to a WAV file a block at a time, written to `out` (24-bit): memory stays at a few
    blocks whatever the music's length."""
    import soundfile as sf

    from emsync_models.render.parts import blocks

    with sf.SoundFile(source) as src:
        rate, frames, channels = src.samplerate, src.frames, src.channels
        margin = int(BAND_MARGIN_S * rate)
        with sf.SoundFile(out, "w", rate, channels, subtype="PCM_24") as dst:
            for start, stop in blocks(frames):
                lo, hi = max(0, start - margin), min(frames, stop + margin)
                src.seek(lo)
                wide = src.read(hi - lo, dtype="float64", always_2d=True)
                band = speech_band(wide, rate, ducking.band_hz)[start - lo:stop - lo]
                dst.write(duck(wide[start - lo:stop - lo], spans, rate, ducking, start, band))
    return out
