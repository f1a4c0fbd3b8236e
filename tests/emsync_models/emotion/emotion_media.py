"""Builds small real videos for the emotion tests and benchmark from photographs that ship in
scikit-image (no downloads): each scene is a still photo with a slow zoom, plus an optional audio track."""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
import wave
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

AudioFn = Callable[[np.ndarray], np.ndarray]  # time [n] seconds -> samples [n] in [-1, 1]


def place(photo: np.ndarray, size: tuple[int, int], zoom: float = 1.0) -> np.ndarray:
    """Photo letterboxed into a (width, height) RGB canvas at the given zoom (1 = fit height)."""
    width, height = size
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    scale = height / photo.shape[0] * zoom
    resized = cv2.resize(photo[..., :3], (int(photo.shape[1] * scale), int(photo.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 16, np.uint8)
    ph, pw = resized.shape[:2]
    y0, x0 = (height - ph) // 2, (width - pw) // 2
    sy, sx = max(0, -y0), max(0, -x0)
    dy, dx = max(0, y0), max(0, x0)
    h, w = min(height - dy, ph - sy), min(width - dx, pw - sx)
    canvas[dy:dy + h, dx:dx + w] = resized[sy:sy + h, sx:sx + w]
    return canvas


def write_video(path: Path, scenes: Sequence[tuple[np.ndarray, float]], size: tuple[int, int] = (640, 360),
                fps: int = 12, audio: AudioFn | np.ndarray | None = None, sample_rate: int = 16_000) -> float:
    """Write an H.264 (or MPEG-4 fallback) video of still-photo scenes; returns its duration."""
    def frames() -> Iterator[np.ndarray]:
        for photo, seconds in scenes:
            count = int(round(seconds * fps))
            for i in range(count):
                yield place(photo, size, zoom=1.0 + 0.03 * i / max(1, count))

    duration = float(sum(seconds for _, seconds in scenes))
    return write_frames(path, frames(), duration, size, fps, audio, sample_rate)


def write_frames(path: Path, frames: Iterable[np.ndarray], duration: float, size: tuple[int, int] = (640, 360),
                 fps: int = 12, audio: AudioFn | np.ndarray | None = None, sample_rate: int = 16_000) -> float:
    """Write RGB frames (each `size`) and audio (a function of time, or samples at `sample_rate`)."""
    with av.open(str(path), "w") as out:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        if codec == "libx264":
            vs.options = {"preset": "ultrafast", "crf": "23"}
        astream = out.add_stream("aac", rate=sample_rate, layout="mono") if audio is not None else None
        for index, frame in enumerate(frames):
            vframe = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vframe.pts = index
            vframe.time_base = Fraction(1, fps)
            for packet in vs.encode(vframe):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if astream is not None and audio is not None:
            n = int(duration * sample_rate)
            if callable(audio):
                samples = audio(np.arange(n) / sample_rate)
            else:
                samples = np.pad(np.asarray(audio, np.float32), (0, max(0, n - len(audio))))[:n]
            samples = np.clip(samples, -1, 1).astype(np.float32)
            pos = 0
            for start in range(0, samples.size, 1024):
                chunk = samples[start:start + 1024].reshape(1, -1)
                aframe = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                aframe.sample_rate = sample_rate
                aframe.pts = pos
                aframe.time_base = Fraction(1, sample_rate)
                pos += chunk.shape[1]
                for packet in astream.encode(aframe):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
    return duration


def festival_speech(text: str, sample_rate: int = 16_000) -> np.ndarray:
    """`text` spoken by Debian's Festival (`text2wave`, kal diphone voice) as float32 samples."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["text2wave", "-F", str(sample_rate), "-o", str(wav)], input=text.encode(), check=True,
                       capture_output=True)
        with wave.open(str(wav)) as w:
            assert w.getframerate() == sample_rate and w.getnchannels() == 1
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def title_card(photo: np.ndarray, text: str, size: tuple[int, int] = (640, 360), per_line: int = 24) -> np.ndarray:
    """`photo` with `text` in large white letters on a dark band, wrapped to `per_line` characters."""
    frame = place(photo, size).copy()
    lines = textwrap.wrap(text.upper(), per_line)
    scale = size[0] / 640
    top = int(size[1] / 2 - 30 * scale * len(lines))
    cv2.rectangle(frame, (0, top - int(12 * scale)), (size[0], top + int(60 * scale) * len(lines)), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        cv2.putText(frame, line, (int(20 * scale), top + int((40 + 60 * i) * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    1.1 * scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
    return frame


def calm_tone(t: np.ndarray) -> np.ndarray:
    return 0.05 * np.sin(2 * np.pi * 220 * t)


def busy_drums(t: np.ndarray) -> np.ndarray:
    """Loud clicks at 150 BPM over noise: high loudness and onset strength."""
    rng = np.random.default_rng(0)
    beat = (t * 2.5) % 1.0
    return 0.8 * np.exp(-beat * 30) * rng.uniform(-1, 1, t.size) + 0.1 * rng.uniform(-1, 1, t.size)


def make_class_dataset(root: Path, per_class: int = 8) -> Path:
    """Three classes whose videos differ the way real footage does: light, colour, motion, sound."""
    rng = np.random.default_rng(0)
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    for label in ("joy", "sadness", "anger"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo = photos[(i + rng.integers(4)) % len(photos)].astype(np.float32)
            if label == "joy":      # bright, warm, lively
                img, audio = np.clip(photo * 1.3 + 40, 0, 255), busy_drums
            elif label == "sadness":  # dark, blue, quiet
                img, audio = photo * 0.35 * np.array([0.7, 0.8, 1.2]), calm_tone
            else:                     # red and loud
                img, audio = np.clip(photo * np.array([1.4, 0.5, 0.5]), 0, 255), busy_drums
            seconds = 1.5 + 0.5 * rng.random()
            write_video(root / label / f"{label}_{i}.mp4", [(img.astype(np.uint8), seconds)],
                        size=(256, 144), fps=8, audio=audio)
    return root
