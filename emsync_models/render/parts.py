"""A render's parts as raw files on disk, read a block at a time: fitted to the video's length and summed.

FluidSynth writes each part (the whole piece, or one instrument) as raw float32 stereo. A 2-hour part is
2.5 GB, a piece of seven instruments seven of them: nothing downstream holds one whole. A part is read
a block at a time, zero past its own end, with the trim and the fade-out the video's length asks for
applied on the way (the same ramps `audio.fit_length` and `audio.fade_out` put on a whole array), and a
mix is the sum of its parts written once to a raw file of its own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emsync_models.render.render_error import RenderError

CHANNELS = 2
FRAME_BYTES = CHANNELS * 4  # float32
TRIM_FADE_FRAMES = 2048  # a trimmed render's last frames fade, so the cut does not click
BLOCK_FRAMES = 1 << 19  # 12 s at 44.1 kHz: every block-at-a-time pass of the render reads this much


def blocks(frames: int) -> list[tuple[int, int]]:
    """[start, stop) of each block of a signal of `frames` frames."""
    return [(a, min(a + BLOCK_FRAMES, frames)) for a in range(0, frames, BLOCK_FRAMES)]


@dataclass(frozen=True)
class RawAudio:
    """A raw float32 stereo file of `frames` frames."""

    path: Path
    frames: int

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames [start, stop) as float32 [n, 2], zero past the file's end."""
        out = np.zeros((stop - start, CHANNELS), np.float32)
        have = max(0, min(stop, self.frames) - start)
        if have:
            with self.path.open("rb") as fh:
                data = os.pread(fh.fileno(), have * FRAME_BYTES, start * FRAME_BYTES)
            out[: len(data) // FRAME_BYTES] = np.frombuffer(data, "<f4").reshape(-1, CHANNELS)
        return out


@dataclass(frozen=True)
class FittedPart:
    """`raw` as the soundtrack uses it: `frames` long (trimmed with a short fade, or padded with
    silence) and, where the video's length is given (`fade_frames` > 0), fading out at its end."""

    raw: RawAudio
    frames: int
    fade_frames: int = 0

    def read(self, start: int, stop: int) -> np.ndarray:
        out = self.raw.read(start, stop)
        if self.fade_frames and self.raw.frames >= self.frames:
            fade_ramp(out, start, self.frames, min(self.frames, TRIM_FADE_FRAMES))
        if self.fade_frames:
            fade_ramp(out, start, self.frames, min(self.frames, self.fade_frames))
        return out


def fade_ramp(block: np.ndarray, start: int, end: int, length: int) -> None:
    """Multiply `block` (frames from `start`) by a linear 1 -> 0 ramp over the `length` frames before `end`."""
    first = end - length
    lo, hi = max(start, first), min(start + len(block), end)
    if lo < hi:
        ramp = np.linspace(1.0, 0.0, length, dtype=np.float32)
        block[lo - start:hi - start] *= ramp[lo - first:hi - first, None]


def write_sum(parts: Sequence[FittedPart], path: Path, frames: int) -> RawAudio:
    """The parts summed (in float64, then float32, as a mix of whole arrays would be) into a raw file."""
    try:
        with path.open("wb") as out:
            for start, stop in blocks(frames):
                total = np.zeros((stop - start, CHANNELS), np.float64)
                for part in parts:
                    total += part.read(start, stop)
                out.write(total.astype("<f4").tobytes())
    except OSError as exc:
        raise RenderError(f"{path}: could not write the mix ({exc}); is the disk full?") from exc
    return RawAudio(path, frames)
