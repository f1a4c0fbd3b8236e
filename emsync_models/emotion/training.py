"""Train and evaluate the fusion transformer on a folder-per-class video dataset.

Frozen extractors run once per video (cached on disk); only `FusionTransformer` is trained. Each
epoch re-packs a random sub-window (at least half) of every training video, a cheap augmentation
that also teaches the model the scene-length inputs it sees at inference time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emsync_models.emotion.analyzer import EmotionAnalyzer
from emsync_models.emotion.dataset import LabelledVideos, scan_dataset, stratified_split
from emsync_models.emotion.extractors.base import FeatureTrack
from emsync_models.emotion.fused_input import FusedBatch, concat_batches, pack_batch
from emsync_models.emotion.fusion import FusionConfig, FusionTransformer
from emsync_models.emotion.metrics import accuracy, confusion_matrix, per_class_f1, save_confusion_png
from emsync_models.emotion.predictor import save_fusion_checkpoint
from emsync_models.emotion.sampling import probe_duration
from emsync_models.threads import compute_threads

Progress = Callable[[str, float], None]
CHECKPOINT_NAME = "fusion.pt"


@dataclass
class TrainConfig:
    epochs: int = 80
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-2
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)   # train, validation, test
    min_window_frac: float = 0.5
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    dropout: float = 0.1
    seed: int = 0
    threads: int = 1   # the model is tiny: more threads only add hand-off cost on a shared CPU


@dataclass
class TrainResult:
    checkpoint: Path
    labels: list[str]
    test_accuracy: float
    val_accuracy: float
    f1: dict[str, float]
    confusion: list[list[int]]
    confusion_png: Path
    metrics_json: Path
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class VideoFeatures:
    tracks: dict[str, FeatureTrack]
    duration_s: float


def featurize(videos: LabelledVideos, analyzer: EmotionAnalyzer,
              progress: Progress | None = None) -> list[VideoFeatures]:
    out = []
    for i, path in enumerate(videos.paths):
        duration = probe_duration(path)
        out.append(VideoFeatures(analyzer.extract(path, duration), duration))
        if progress:
            progress("extract", (i + 1) / len(videos.paths))
    return out


def whole_video_batch(items: list[VideoFeatures], dims: dict[str, int]) -> FusedBatch:
    return concat_batches([pack_batch(v.tracks, [(0.0, v.duration_s)], dims) for v in items])


def random_window_batch(items: list[VideoFeatures], dims: dict[str, int], min_frac: float,
                        rng: np.random.Generator) -> FusedBatch:
    rows = []
    for v in items:
        length = v.duration_s * rng.uniform(min_frac, 1.0)
        start = rng.uniform(0.0, v.duration_s - length)
        rows.append(pack_batch(v.tracks, [(start, start + length)], dims))
    return concat_batches(rows)


def to_tensors(batch: FusedBatch) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in batch.items()}


@torch.inference_mode()
def predict_classes(model: FusionTransformer, batch: FusedBatch) -> np.ndarray:
    model.eval()
    return model(**to_tensors(batch)).argmax(-1).numpy()


def fit(train: list[VideoFeatures], y_train: np.ndarray, val: list[VideoFeatures], y_val: np.ndarray,
        labels: list[str], dims: dict[str, int], config: TrainConfig,
        progress: Progress | None = None) -> tuple[FusionTransformer, float]:
    """Train; returns the model restored to its best validation accuracy, and that accuracy."""
    with compute_threads(config.threads):
        return _fit(train, y_train, val, y_val, labels, dims, config, progress)


def _fit(train: list[VideoFeatures], y_train: np.ndarray, val: list[VideoFeatures], y_val: np.ndarray,
         labels: list[str], dims: dict[str, int], config: TrainConfig,
         progress: Progress | None = None) -> tuple[FusionTransformer, float]:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = FusionTransformer(FusionConfig(dims=dims, labels=labels, d_model=config.d_model,
                                           heads=config.heads, layers=config.layers, dropout=config.dropout))
    model.fit_normalisation(to_tensors(whole_video_batch(train, dims)))
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs)
    # Inverse-frequency class weights: small real datasets are rarely balanced.
    counts = np.bincount(y_train, minlength=len(labels)).astype(np.float32)
    class_weight = torch.from_numpy(counts.sum() / np.maximum(counts, 1.0) / len(labels))
    val_batch = whole_video_batch(val, dims) if val else None
    best_acc, best_state = -1.0, None
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(train))
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            batch = to_tensors(random_window_batch([train[i] for i in idx], dims, config.min_window_frac, rng))
            loss = F.cross_entropy(model(**batch), torch.from_numpy(y_train[idx]), weight=class_weight)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
        schedule.step()
        acc = float((predict_classes(model, val_batch) == y_val).mean()) if val_batch is not None else 0.0
        if acc >= best_acc:  # ties go to the later, better-trained epoch
            best_acc, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
        if progress:
            progress("train", (epoch + 1) / config.epochs)
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval(), best_acc


def train_emotion_classifier(dataset: Path, out_dir: Path, analyzer: EmotionAnalyzer,
                             config: TrainConfig | None = None,
                             progress: Progress | None = None) -> TrainResult:
    """Scan, extract (cached), split stratified, train, evaluate on the held-out test split, save."""
    config = config or TrainConfig()
    videos = scan_dataset(dataset)
    features = featurize(videos, analyzer, progress)
    train_idx, val_idx, test_idx = stratified_split(videos.targets, config.fractions, config.seed)
    y = videos.targets
    dims = analyzer.dims
    model, val_acc = fit([features[i] for i in train_idx], y[train_idx], [features[i] for i in val_idx],
                         y[val_idx], videos.labels, dims, config, progress)
    eval_idx = test_idx if test_idx.size else val_idx
    predictions = predict_classes(model, whole_video_batch([features[i] for i in eval_idx], dims))
    matrix = confusion_matrix(y[eval_idx], predictions, len(videos.labels))
    f1 = per_class_f1(matrix)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.config.extra = {"version": f"fusion-{Path(dataset).name}-seed{config.seed}",
                          "dataset": str(dataset), "train_config": json.dumps(asdict(config))}
    metrics = {"test_accuracy": accuracy(matrix), "val_accuracy": val_acc,
               **{f"f1/{label}": float(v) for label, v in zip(videos.labels, f1, strict=True)}}
    checkpoint = out_dir / CHECKPOINT_NAME
    save_fusion_checkpoint(checkpoint, model, metrics)
    png = save_confusion_png(matrix, videos.labels, out_dir / "confusion.png",
                             title=f"held-out accuracy {accuracy(matrix):.2f} (n={matrix.sum()})")
    counts = {"train": int(train_idx.size), "val": int(val_idx.size), "test": int(test_idx.size)}
    metrics_json = out_dir / "metrics.json"
    metrics_json.write_text(json.dumps({**metrics, "labels": videos.labels, "confusion": matrix.tolist(),
                                        "counts": counts, "extractors": {e.name: e.version
                                                                         for e in analyzer.extractors}},
                                       indent=2))
    return TrainResult(checkpoint, videos.labels, accuracy(matrix), val_acc,
                       {label: float(v) for label, v in zip(videos.labels, f1, strict=True)},
                       matrix.tolist(), png, metrics_json, counts)
