"""Held-out long videos for end-to-end runs: acts of recurring kinds of scene, low resolution, with sound.

    python -m benchmarks.long_video OUT.mp4 --minutes 120 [--seed 7] [--size 160x90] [--fps 10]

A film is a sequence of acts (calm, tense, excited, sad, happy, each a few minutes), every act a run of
scenes 5-25 s long cut hard from one another. Each kind has its own picture (colour, brightness and
motion: a slow dark gradient for calm, a flickering red field for tense, a fast bright pattern for
excited ...) and its own sound (soft tones, low noise, loud bright noise, a slow low hum, a major chord),
so the emotion model has evidence to follow. The scenes are cut from a small pool of rendered clips
(one per kind and variant) and concatenated in one re-encode, so a 2-hour film takes a minute or two.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

POOL_S = 30.0  # each pooled clip's length: scenes are cut from it
KINDS: dict[str, list[tuple[str, str]]] = {
    # kind: (video source, audio source) variants; {s} size, {r} rate, {d} duration
    "calm": [("gradients=s={s}:r={r}:d={d}:speed=0.002:c0=0x102040:c1=0x204060:n=2",
              "sine=frequency=220:sample_rate=44100:d={d},volume=0.15"),
             ("color=c=0x203050:s={s}:r={r}:d={d},noise=alls=4:allf=t",
              "sine=frequency=261.6:sample_rate=44100:d={d},volume=0.12")],
    "tense": [("color=c=0x400000:s={s}:r={r}:d={d},noise=alls=40:allf=t,eq=brightness=-0.1",
               "anoisesrc=c=brown:r=44100:a=0.2:d={d},lowpass=f=300"),
              ("testsrc2=s={s}:r={r}:d={d},hue=s=0.2,eq=brightness=-0.3",
               "sine=frequency=55:sample_rate=44100:d={d},volume=0.5")],
    "excited": [("testsrc2=s={s}:r={r}:d={d},eq=saturation=2:brightness=0.1",
                 "anoisesrc=c=pink:r=44100:a=0.5:d={d}"),
                ("mandelbrot=s={s}:r={r}:end_pts={d}:end_scale=0.01",
                 "anoisesrc=c=white:r=44100:a=0.3:d={d},highpass=f=2000")],
    "sad": [("color=c=0x505050:s={s}:r={r}:d={d},noise=alls=6:allf=t",
             "sine=frequency=110:sample_rate=44100:d={d},volume=0.1"),
            ("gradients=s={s}:r={r}:d={d}:speed=0.001:c0=0x303038:c1=0x505058:n=2",
             "sine=frequency=146.8:sample_rate=44100:d={d},volume=0.08")],
    "happy": [("color=c=0xf0d020:s={s}:r={r}:d={d},noise=alls=10:allf=t",
               "sine=frequency=523.3:sample_rate=44100:d={d},volume=0.2"),
              ("gradients=s={s}:r={r}:d={d}:speed=0.02:c0=0xffa000:c1=0x40ff40:n=3",
               "sine=frequency=659.3:sample_rate=44100:d={d},volume=0.2")],
}


def _ffmpeg(*args: str) -> None:
    subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    *args], check=True)


def _pool(folder: Path, size: str, fps: int) -> dict[str, list[Path]]:
    pool: dict[str, list[Path]] = {}
    for kind, variants in KINDS.items():
        for i, (video, audio) in enumerate(variants):
            path = folder / f"{kind}{i}.mp4"
            fill = {"s": size, "r": fps, "d": POOL_S}
            _ffmpeg("-f", "lavfi", "-i", video.format(**fill), "-f", "lavfi", "-i", audio.format(**fill),
                    "-t", str(POOL_S), "-c:v", "libx264", "-preset", "ultrafast", "-g", "1", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-ac", "2", "-shortest", str(path))
            pool.setdefault(kind, []).append(path)
    return pool


def scene_list(minutes: float, seed: int) -> list[tuple[str, float]]:
    """(kind, seconds) per scene: acts of 1-4 minutes, kinds recurring, no kind twice in a row."""
    rng = random.Random(seed)
    total, scenes, last = minutes * 60.0, [], None
    while sum(s for _, s in scenes) < total:
        kind = rng.choice([k for k in KINDS if k != last])
        last = kind
        act = rng.uniform(60.0, 240.0)
        while act > 0 and sum(s for _, s in scenes) < total:
            length = min(rng.uniform(5.0, 25.0), total - sum(s for _, s in scenes))
            scenes.append((kind, round(length, 2)))
            act -= length
    return scenes


def build(out: Path, minutes: float, seed: int = 7, size: str = "160x90", fps: int = 10) -> Path:
    rng = random.Random(seed + 1)
    with tempfile.TemporaryDirectory(prefix="long-video-") as tmp:
        folder = Path(tmp)
        pool = _pool(folder, size, fps)
        lines = []
        for kind, seconds in scene_list(minutes, seed):
            clip = rng.choice(pool[kind])
            start = round(rng.uniform(0.0, POOL_S - seconds), 2) if seconds < POOL_S else 0.0
            lines += [f"file '{clip}'", f"inpoint {start}", f"outpoint {start + seconds}"]
        (folder / "list.txt").write_text("\n".join(lines) + "\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        _ffmpeg("-f", "concat", "-safe", "0", "-i", str(folder / "list.txt"), "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", "-r", str(fps), "-c:a", "aac", "-ac", "2", "-movflags", "+faststart", str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", default="160x90")
    parser.add_argument("--fps", type=int, default=10)
    args = parser.parse_args()
    print(build(args.out, args.minutes, args.seed, args.size, args.fps))


if __name__ == "__main__":
    main()
