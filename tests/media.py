"""Small real media files for tests, made with ffmpeg's lavfi sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    *args], check=True)


def make_clip(path: Path, *, seconds: float = 4.0, size: str = "320x180", fps: int = 25, audio: bool = True,
              colors: tuple[str, ...] = ("red",)) -> Path:
    """A small H.264 clip: one solid-colour scene per colour (hard cuts between them) over a test pattern."""
    per = seconds / len(colors)
    inputs: list[str] = []
    for color in colors:
        inputs += ["-f", "lavfi", "-i", f"color=c={color}:s={size}:r={fps}:d={per}"]
    n = len(colors)
    graph = "".join(f"[{i}:v]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    args = [*inputs]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}"]
    args += ["-filter_complex", graph, "-map", "[v]"]
    if audio:
        args += ["-map", f"{n}:a", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", str(path)]
    ffmpeg(*args)
    return path


def damaged_ts(path: Path) -> Path:
    """A 4 s H.264 MPEG-TS whose middle half is overwritten with junk: intact headers, corrupt frames."""
    good = path.with_name(path.stem + "-good.ts")
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x180:r=25:d=4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-f", "mpegts", str(good))
    data = bytearray(good.read_bytes())
    data[len(data) // 4: 3 * len(data) // 4] = b"\xab" * (3 * len(data) // 4 - len(data) // 4)
    path.write_bytes(bytes(data))
    return path


def padded_mp4(source: Path, path: Path, pad_bytes: int) -> Path:
    """`source` (an MP4) followed by a top-level `free` box of `pad_bytes`: a video that large to read and
    hash, left sparse on disk. MP4 readers skip free boxes, so it decodes exactly like `source`."""
    import struct

    data = source.read_bytes()
    with path.open("wb") as out:
        out.write(data)
        out.write(struct.pack(">I4sQ", 1, b"free", pad_bytes))  # size 1: the 64-bit size follows
        out.truncate(len(data) + pad_bytes)
    return path
