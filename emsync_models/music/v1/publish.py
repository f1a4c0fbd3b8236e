"""Turn a training checkpoint into the committed default: current key names, inference settings."""

from __future__ import annotations

from pathlib import Path

import torch

from emsync_models.music.v1.model import upgrade_state_dict


def publish_checkpoint(src: Path, dst: Path, name: str = "emsync-music-small", guidance: float = 1.0) -> None:
    payload = torch.load(src, map_location="cpu", weights_only=False)
    payload["state_dict"] = upgrade_state_dict(payload["state_dict"])
    payload["name"] = name
    payload["guidance"] = guidance
    tmp = dst.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(dst)
