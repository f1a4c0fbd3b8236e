"""What the v1 and v2 training loops share: the learning-rate schedule and the atomic checkpoint write."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import torch


class ScheduleConfig(Protocol):
    steps: int
    lr: float
    min_lr: float
    warmup: int


def lr_at(step: int, cfg: ScheduleConfig) -> float:
    """Linear warmup to `cfg.lr`, then cosine decay to `cfg.min_lr` at `cfg.steps`."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min((step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1), 1.0)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def atomic_save(payload: dict, path: Path) -> None:
    """torch.save through a temporary file and a rename: a reader never sees half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
