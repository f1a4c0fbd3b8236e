"""Training loop for the music transformer: AdamW, warmup + cosine, periodic val loss and checkpoints.

Checkpoints are written atomically every `checkpoint_every` steps, so an interrupted CPU run still
leaves a usable model, and they carry everything inference needs (config, proxy quantiles, history).
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
from emsync_models.music.v1.dataset import BatchSampler, TokenCorpus, unigram_nll
from emsync_models.music.v1.model import MusicTransformer, MusicTransformerConfig, upgrade_state_dict


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    batch_size: int = 12
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 6
    checkpoint_every: int = 100
    seed: int = 0
    threads: int = 2
    max_minutes: float | None = None
    start_prob: float = 0.0  # share of training windows that start at a piece's beginning
    mode_swap_prob: float = 0.0  # share of training windows moved to their parallel mode (proxy labels)
    # Share of steps spent on openings: many short windows, each labelled by the block it begins. The
    # label tells most where the context does not yet (the first notes), so openings carry its signal.
    opening_share: float = 0.0
    opening_tokens: int = 48
    key_normalise: bool = False  # train (and validate) in C major / C minor; see BatchSampler
    init_from: str | None = None  # continue from this checkpoint's weights (fresh optimizer and schedule)
    # Re-draw the valence input MLP of an init_from checkpoint: one started at a 0.02-scale init never
    # grew out of it (its output barely moved with the label, so the model learned to ignore valence).
    reinit_valence: bool = False


@torch.no_grad()
def evaluate_loss(model: MusicTransformer, batches: list[dict[str, torch.Tensor]]) -> float:
    was_training = model.training
    model.eval()
    losses = [float(model.loss(b)) for b in batches]
    model.train(was_training)
    return float(np.mean(losses))


def save_checkpoint(path: Path, model: MusicTransformer, corpus: TokenCorpus, extra: dict) -> None:
    payload = {
        "model_config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "proxy": {
            "mode_quantiles": corpus.mode_quantiles.tolist(),
            "density_quantiles": corpus.density_quantiles.tolist(),
        },
        **extra,
    }
    atomic_save(payload, path)


def plot_history(history: dict, unigram: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["step"], history["train_loss"], label="train (running mean)")
    ax.plot(history["eval_step"], history["val_loss"], "o-", label="validation")
    ax.axhline(unigram, color="gray", linestyle="--", label=f"unigram baseline {unigram:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("emsync-music training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    corpus: TokenCorpus,
    model_config: MusicTransformerConfig,
    cfg: TrainConfig,
    checkpoint_path: Path,
    log: Callable[[str], None] = print,
) -> dict:
    """Train from scratch; returns the history. Writes checkpoint, history JSON and loss PNG beside it."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model = MusicTransformer(model_config)
    history: dict = {"step": [], "train_loss": [], "eval_step": [], "val_loss": [], "unigram_val": 0.0}
    step0 = 0
    if cfg.init_from:
        payload = torch.load(cfg.init_from, map_location="cpu", weights_only=False)
        model = MusicTransformer(MusicTransformerConfig(**payload["model_config"]))
        model.load_state_dict(upgrade_state_dict(payload["state_dict"]))
        step0 = int(payload.get("step", 0))
        history = payload.get("history", history)
        history.setdefault("resumed_at", []).append(step0)
        log(f"continuing from {cfg.init_from} at step {step0}")
        if cfg.reinit_valence:
            model.valence_emb.reset_parameters()
            log("valence input MLP re-drawn")
    train_sampler = BatchSampler(
        corpus, "train", model.config.block_size, seed=cfg.seed, start_prob=cfg.start_prob,
        mode_swap_prob=cfg.mode_swap_prob, key_normalise=cfg.key_normalise,
    )
    opening_sampler = BatchSampler(
        corpus, "train", cfg.opening_tokens, seed=cfg.seed + 2, mode_swap_prob=cfg.mode_swap_prob,
        label_tokens=model.config.block_size + 1, key_normalise=cfg.key_normalise,
    )
    opening_batch = cfg.batch_size * max(1, model.config.block_size // cfg.opening_tokens)
    step_rng = np.random.default_rng(cfg.seed + 3)
    val_sampler = BatchSampler(
        corpus, "val", model.config.block_size, label_dropout=0.0, seed=cfg.seed + 1, key_normalise=cfg.key_normalise
    )
    val_sampler.transpose = 0
    val_batches = [val_sampler.sample(cfg.batch_size) for _ in range(cfg.eval_batches)]
    unigram = unigram_nll(corpus)
    log(f"model {model.num_params() / 1e6:.2f}M params; {corpus.n_tokens} tokens; unigram val NLL {unigram:.3f}")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "emb" in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    history["unigram_val"] = unigram
    png, hist_json = checkpoint_path.with_suffix(".loss.png"), checkpoint_path.with_suffix(".history.json")
    t0, running = time.time(), None
    elapsed0 = float(history.get("elapsed_s", 0.0))
    model.train()
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        if cfg.opening_share and step_rng.random() < cfg.opening_share:
            batch = opening_sampler.sample(opening_batch)
        else:
            batch = train_sampler.sample(cfg.batch_size)
        loss = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        value = loss.item()
        running = value if running is None else 0.95 * running + 0.05 * value
        done = step0 + step + 1
        out_of_time = cfg.max_minutes is not None and time.time() - t0 > cfg.max_minutes * 60
        if done % 10 == 0:
            history["step"].append(done)
            history["train_loss"].append(running)
        last = step + 1 == cfg.steps
        if done % cfg.eval_every == 0 or last or out_of_time:
            val = evaluate_loss(model, val_batches)
            history["eval_step"].append(done)
            history["val_loss"].append(val)
            elapsed = time.time() - t0
            lr = lr_at(step, cfg)
            log(f"step {done}/{step0 + cfg.steps} train {running:.3f} val {val:.3f} lr {lr:.2e} {elapsed:.0f}s")
        if done % cfg.checkpoint_every == 0 or last or out_of_time:
            history["elapsed_s"] = elapsed0 + time.time() - t0
            extra = {
                "step": done, "history": history, "train_config": asdict(cfg), "key_normalised": cfg.key_normalise
            }
            save_checkpoint(checkpoint_path, model, corpus, extra)
            hist_json.write_text(json.dumps(history))
            plot_history(history, unigram, png)
        if out_of_time:
            log(f"stopping at step {done}: the {cfg.max_minutes} min budget is spent")
            break
    return history
