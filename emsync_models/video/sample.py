"""A sample video nobody here drew: public-domain photographs from scikit-image's data package.

Four scenes with hard cuts at known times, a slow zoom inside each scene (so it is moving picture, not
a slideshow) and a quiet stereo ambience track, so every stage of the job has real input to chew on.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from skimage import data
from skimage.transform import resize

# (skimage loader, seconds on screen); the astronaut's smiling portrait leads, the rocket closes.
SCENES: tuple[tuple[str, float], ...] = (("astronaut", 5.6), ("chelsea", 5.6), ("coffee", 5.2), ("rocket", 5.6))


@dataclass(frozen=True)
class SampleVideo:
    path: Path
    duration_s: float
    cuts_s: tuple[float, ...]
    fps: int


def sample_cut_times(scenes: tuple[tuple[str, float], ...] = SCENES) -> tuple[float, ...]:
    return tuple(float(t) for t in np.cumsum([s for _, s in scenes])[:-1].round(6))


def build_sample_video(out: Path, *, width: int = 960, height: int = 540, fps: int = 25,
                       scenes: tuple[tuple[str, float], ...] = SCENES, sample_rate: int = 48000,
                       progress: Callable[[float], None] | None = None) -> SampleVideo:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (Debian package 'ffmpeg')")
    duration = float(sum(s for _, s in scenes))
    total_frames = round(duration * fps)
    partial = out.with_name(f".{out.name}.partial")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "ambience.wav"
        sf.write(wav, _ambience(duration, sample_rate), sample_rate)
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
               "-i", str(wav), "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
               "-pix_fmt", "yuv420p", "-g", str(fps), "-c:a", "aac", "-b:a", "128k", "-shortest",
               "-f", "mp4", str(partial)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        written = 0
        for name, seconds in scenes:
            canvas = _fit(getattr(data, name)(), width, height)
            frames = round(seconds * fps)
            for i in range(frames):
                proc.stdin.write(_zoom(canvas, 1.0 + 0.08 * i / max(frames - 1, 1)).tobytes())
                written += 1
                if progress is not None and written % fps == 0:
                    progress(written / total_frames)
        proc.stdin.close()
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.wait() != 0:
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"ffmpeg could not write the sample video: {err.strip()[-400:]}")
    partial.replace(out)  # a killed build never leaves a half sample that later runs would trust
    return SampleVideo(path=out, duration_s=duration, cuts_s=sample_cut_times(scenes), fps=fps)


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Letterbox an RGB (or grey) photo into the frame without distorting it."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nh, nw = int(h * scale), int(w * scale)
    small = (resize(image, (nh, nw), anti_aliasing=True) * 255).astype(np.uint8)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    canvas[top:top + nh, left:left + nw] = small[:, :, :3]
    return canvas


def _zoom(canvas: np.ndarray, factor: float) -> np.ndarray:
    """Centre crop by `factor` and scale back up with nearest-neighbour indexing (fast, no deps)."""
    h, w = canvas.shape[:2]
    ys = ((np.arange(h) - h / 2) / factor + h / 2).astype(int).clip(0, h - 1)
    xs = ((np.arange(w) - w / 2) / factor + w / 2).astype(int).clip(0, w - 1)
    return canvas[ys][:, xs]


def _ambience(duration: float, sample_rate: int) -> np.ndarray:
    """Soft filtered noise with a slow swell: an 'original audio' to mix under or replace."""
    rng = np.random.default_rng(0)
    n = round(duration * sample_rate)
    noise = np.cumsum(rng.standard_normal((n, 2)), axis=0)
    noise -= np.linspace(noise[0], noise[-1], n)  # remove the random walk's drift
    noise /= np.abs(noise).max() + 1e-9
    swell = 0.5 + 0.5 * np.sin(2 * np.pi * np.arange(n) / sample_rate / 8.0)[:, None]
    return (0.1 * noise * swell).astype(np.float32)
