"""Folder-per-class video datasets (Ekman-6, VideoEmotion-8, or any label set) and stratified splits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emsync_models.errors import InputError

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv"})


@dataclass(frozen=True)
class LabelledVideos:
    paths: list[Path]
    targets: np.ndarray    # int64 [N], indices into labels
    labels: list[str]      # sorted class-folder names


def scan_dataset(root: Path, min_per_class: int = 2) -> LabelledVideos:
    """DATASET/<label>/<video> -> LabelledVideos. Raises InputError naming what is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "is not a folder (expected one sub-folder of videos per class)")
    labels, paths, targets = [], [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        videos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not videos:
            continue
        if len(videos) < min_per_class:
            raise InputError(folder, f"has {len(videos)} video(s); each class needs at least {min_per_class}")
        labels.append(folder.name)
        paths += videos
        targets += [len(labels) - 1] * len(videos)
    if len(labels) < 2:
        raise InputError(root, f"needs at least two class folders with videos, found {len(labels)}")
    return LabelledVideos(paths, np.asarray(targets, np.int64), labels)


def stratified_split(targets: Sequence[int] | np.ndarray, fractions: Sequence[float],
                     seed: int = 0) -> list[np.ndarray]:
    """Index arrays, one per fraction, with every class spread proportionally (each split that
    is given a non-zero fraction gets at least one example of every class that has enough)."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    splits: list[list[int]] = [[] for _ in fractions]
    for cls in np.unique(targets):
        idx = rng.permutation(np.flatnonzero(targets == cls))
        counts = [int(np.floor(f * idx.size)) for f in fractions]
        for i in range(1, len(fractions)):  # every held-out split sees every class when possible
            if fractions[i] > 0 and counts[i] == 0 and idx.size - sum(counts[1:]) > 1:
                counts[i] = 1
        counts[0] = idx.size - sum(counts[1:])
        start = 0
        for i, count in enumerate(counts):
            splits[i] += idx[start:start + count].tolist()
            start += count
    return [np.sort(np.asarray(s, np.int64)) for s in splits]
