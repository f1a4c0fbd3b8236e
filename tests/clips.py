"""Tiny real video clips for the platform tests and the catalog benchmark.

Real photographs (scikit-image's public-domain set, via the sample-video builder), tiny frames and a few
seconds each, so the real models run on every clip and a catalog of dozens still scores in minutes.
Each clip differs in scene order and length, so each has its own content hash.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from emsync_models.video.sample import build_sample_video

IMAGES = ("astronaut", "chelsea", "coffee", "rocket")


def clip_plan(n: int) -> list[tuple[tuple[str, float], ...]]:
    orders = list(itertools.permutations(IMAGES, 2))
    lengths = ((1.6, 1.6), (1.4, 1.9), (1.9, 1.4), (1.5, 1.7), (1.7, 1.5))
    plan = [tuple(zip(order, length, strict=True)) for length in lengths for order in orders]
    if n > len(plan):
        raise ValueError(f"at most {len(plan)} distinct clips")
    return plan[:n]


def make_clips(folder: Path, n: int, width: int = 64, height: int = 48, fps: int = 10,
               stretch: float = 1.0) -> list[Path]:
    """`n` distinct clips in `folder` (reused when already there: building them is the slow part).

    `stretch` scales every scene's length (1.0: clips of 3.0-3.4 s).
    """
    folder.mkdir(parents=True, exist_ok=True)
    plan = [tuple((name, round(s * stretch, 3)) for name, s in scenes) for scenes in clip_plan(n)]
    paths = [folder / f"clip-{i:03d}-{width}x{height}-{fps}fps-x{stretch:g}.mp4" for i in range(n)]
    todo = [(p, s) for p, s in zip(paths, plan, strict=True) if not p.is_file()]
    # ffmpeg does the work in a subprocess: two at a time keeps both cores busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: build_sample_video(job[0], width=width, height=height, fps=fps, scenes=job[1]), todo))
    return paths
