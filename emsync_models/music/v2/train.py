"""Training loop for the v2 generator: AdamW, warmup + cosine, resumable from its own checkpoints.

The checkpoint (written atomically every `checkpoint_every` steps) holds the model, the optimizer, the
step and the history, so a killed run resumes where it stopped with `resume=True`. The published file
(`export_checkpoint`) keeps only what inference needs, in bf16 to stay small.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from emsync_models.music.optim import atomic_save, lr_at
from emsync_models.music.v2.data import BatchSamplerV2, TokenCorpusV2
from emsync_models.music.v2.model import MusicTransformerV2, MusicV2Config


@dataclass(frozen=True)
class TrainV2Config:
    steps: int = 20000
    batch_size: int = 8
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 200
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 4
    checkpoint_every: int = 100
    seed: int = 0
    threads: int = 1
    label_dropout: float = 0.1
    max_minutes: float | None = None
    device: str = "cpu"  # "cuda" trains in bf16 autocast on a GPU


def batch_loss(model: MusicTransformerV2, batch: dict[str, torch.Tensor], device: torch.device) -> torch.Tensor:
    """The model's loss on `batch`, moved to `device`; bf16 autocast only on a GPU (CPU training stays in
    fp32: bf16 matmuls are slow on most CPUs)."""
    on_device = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        return model.loss(on_device)


def train_v2(
    corpus: TokenCorpusV2,
    model_config: MusicV2Config,
    cfg: TrainV2Config,
    state_path: Path,
    resume: bool = True,
    log: Callable[[str], None] = print,
    extra: dict | None = None,
) -> dict:
    """Train (or continue training) and return the history; `state_path` is the resumable state."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = MusicTransformerV2(model_config)
    device = torch.device(cfg.device)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    history: dict = {"step": [], "train_loss": [], "val_step": [], "val_loss": [], "seconds": 0.0,
                     "train_config": asdict(cfg), "model_config": model_config.to_dict()}
    step = 0
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state["model_config"] != model_config.to_dict():
            raise ValueError(f"{state_path}: saved for a different model shape; remove it or pass resume=False")
        model.load_state_dict(state["state_dict"])
        model.to(device)
        opt.load_state_dict(state["optimizer"])
        history, step = state["history"], int(state["step"])
        log(f"resumed at step {step}")
    train = BatchSamplerV2(corpus, "train", model_config.block_size, cfg.label_dropout, seed=cfg.seed + step)
    val = BatchSamplerV2(corpus, "val", model_config.block_size, 0.0, seed=999)
    val_batches = [val.sample(cfg.batch_size) for _ in range(cfg.eval_batches)]
    log(f"model {model.num_params() / 1e6:.2f} M parameters; {len(train.pieces)} train pieces; {device}")

    def loss_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch_loss(model, batch, device)

    def save() -> None:
        weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        atomic_save({"model_config": model_config.to_dict(), "state_dict": weights,
                      "optimizer": opt.state_dict(), "history": history, "step": step, **(extra or {})}, state_path)

    t0, window = time.time(), []
    model.train()
    while step < cfg.steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = loss_of(train.sample(cfg.batch_size))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        window.append(float(loss.detach()))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            model.eval()
            with torch.no_grad():
                vl = float(np.mean([float(loss_of(b)) for b in val_batches]))
            model.train()
            history["step"].append(step)
            history["train_loss"].append(float(np.mean(window)))
            history["val_step"].append(step)
            history["val_loss"].append(vl)
            history["seconds"] += time.time() - t0
            t0, window = time.time(), []
            log(f"step {step}: train {history['train_loss'][-1]:.3f} val {vl:.3f} ({history['seconds'] / 60:.1f} min)")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save()
        if cfg.max_minutes is not None and history["seconds"] + time.time() - t0 > cfg.max_minutes * 60:
            log(f"time limit reached at step {step}")
            break
    save()
    return history


def export_checkpoint(state_path: Path, out: Path, extra: dict) -> Path:
    """The inference checkpoint: config, bf16 weights, history and `extra` (style means, tokenizer id)."""
    state = torch.load(state_path, map_location="cpu", weights_only=False)
    payload = {
        "model_config": state["model_config"],
        "state_dict": {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state["state_dict"].items()},
        "history": state["history"],
        "step": state["step"],
        **extra,
    }
    atomic_save(payload, out)
    out.with_suffix(".history.json").write_text(json.dumps(state["history"], indent=1))
    return out
