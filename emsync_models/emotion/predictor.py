"""The fusion step as one pure call: fused batch (numpy) in, Ekman-6 probabilities and V/A out.

    predict(batch: FusedBatch) -> (probs float32 [N, 6] in EKMAN6 order, va float32 [N, 2])

`FusionPredictor` implements it in-process for both heads: a trained `FusionTransformer`
checkpoint, or the label-free `DefaultEmotionHead`. A Triton client with the same signature can be
injected into the analyzer instead (the Triton model's `model.py` builds a FusionPredictor too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emsync_models.emotion.default_head import DefaultEmotionHead
from emsync_models.emotion.fused_input import CORE_DIMS, STEPS, FusedBatch, mask_key
from emsync_models.emotion.fusion import FusionConfig, FusionTransformer
from emsync_models.emotion.labels import DEFAULT_HEAD_NAME, DEFAULT_HEAD_VERSION, EKMAN6  # noqa: F401 - re-exported
from emsync_models.emotion.mapping import DEFAULT_VA_TABLE, circumplex_coordinates

PredictFn = Callable[[FusedBatch], tuple[np.ndarray, np.ndarray]]

# Output tensor names for a served model: float32 [N, 6] (EKMAN6 order) and float32 [N, 2].
OUTPUT_PROBS = "probs"
OUTPUT_VA = "valence_arousal"


# Common spellings of the Ekman six in other label sets (FER, VideoEmotion-8 is already Ekman + 2).
LABEL_ALIASES: dict[str, str] = {
    "angry": "anger", "disgusted": "disgust", "afraid": "fear", "fearful": "fear", "happy": "joy",
    "happiness": "joy", "sad": "sadness", "surprised": "surprise",
}


def ekman_projection(labels: Sequence[str]) -> np.ndarray:
    """float32 [len(labels), 6]: each class's probability mass redistributed onto Ekman-6.

    A label that is (an alias of) an Ekman category goes there; any other label (VideoEmotion-8's
    anticipation and trust, a neutral class) is spread evenly, i.e. it lowers confidence only.
    """
    proj = np.zeros((len(labels), len(EKMAN6)), np.float32)
    for i, label in enumerate(labels):
        key = LABEL_ALIASES.get(label.lower(), label.lower())
        if key in EKMAN6:
            proj[i, EKMAN6.index(key)] = 1.0
        else:
            proj[i] = 1.0 / len(EKMAN6)
    return proj


def save_fusion_checkpoint(path: Path, model: FusionTransformer, metrics: dict[str, float] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": "emsync-emotion-fusion/1", "config": model.config.to_dict(),
                "state_dict": model.state_dict(), "metrics": metrics or {}}, path)


def load_fusion_checkpoint(path: Path) -> FusionTransformer:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load surfaces format damage as many unrelated types
        raise ValueError(f"{path}: not a readable fusion checkpoint ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != "emsync-emotion-fusion/1":
        raise ValueError(f"{path}: not an EMSYNC emotion fusion checkpoint")
    model = FusionTransformer(FusionConfig(**blob["config"]))
    model.load_state_dict(blob["state_dict"])
    return model.eval()


class FusionPredictor:
    """In-process `PredictFn`. `dims` are the modalities the head reads (others are ignored)."""

    def __init__(self, head: nn.Module, labels: Sequence[str], dims: dict[str, int], name: str,
                 version: str, applies_softmax: bool, va_table: str = DEFAULT_VA_TABLE) -> None:
        self.head = head.eval()
        self.labels = list(labels)
        self.dims = dict(dims)
        self.name = name
        self.version = version
        self.applies_softmax = applies_softmax
        self.projection = torch.from_numpy(ekman_projection(self.labels))
        self.va_table = va_table
        self.coords = torch.from_numpy(circumplex_coordinates(EKMAN6, va_table).copy())

    @classmethod
    def default(cls, va_table: str = DEFAULT_VA_TABLE) -> FusionPredictor:
        """The label-free evidence head over every core modality."""
        version = DEFAULT_HEAD_VERSION if va_table == DEFAULT_VA_TABLE else f"{DEFAULT_HEAD_VERSION}+{va_table}"
        return cls(DefaultEmotionHead(va_table), EKMAN6, dict(CORE_DIMS), DEFAULT_HEAD_NAME, version, False,
                   va_table)

    @classmethod
    def from_checkpoint(cls, path: Path, va_table: str = DEFAULT_VA_TABLE) -> FusionPredictor:
        model = load_fusion_checkpoint(path)
        if not (ekman_projection(model.config.labels).max(axis=1) == 1.0).any():
            raise ValueError(f"{path}: labels {model.config.labels} share no category with Ekman-6")
        version = model.config.extra.get("version", path.stem)
        return cls(model, model.config.labels, model.config.dims, "fusion-transformer", version, True, va_table)

    def input_spec(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """(name, dtype, shape without batch) for every input, e.g. for a Triton config.pbtxt."""
        spec: list[tuple[str, str, tuple[int, ...]]] = []
        for m, dim in self.dims.items():
            spec += [(m, "float32", (STEPS, dim)), (mask_key(m), "bool", (STEPS,))]
        return spec

    def tensors(self, batch: FusedBatch) -> dict[str, torch.Tensor]:
        tensors = {}
        for m in self.dims:
            if m in batch:
                tensors[m] = torch.from_numpy(np.ascontiguousarray(batch[m], np.float32))
                tensors[mask_key(m)] = torch.from_numpy(np.ascontiguousarray(batch[mask_key(m)], bool))
        return tensors

    @torch.inference_mode()
    def class_probs(self, batch: FusedBatch) -> np.ndarray:
        """Probabilities over the head's own labels [N, C]."""
        out = self.head(**self.tensors(batch))
        if isinstance(out, tuple):
            out = out[0]
        return (torch.softmax(out, -1) if self.applies_softmax else out).numpy()

    @torch.inference_mode()
    def __call__(self, batch: FusedBatch) -> tuple[np.ndarray, np.ndarray]:
        out = self.head(**self.tensors(batch))
        # The default head blends direct valence/arousal cues itself; a classifier's V/A is the
        # probability-weighted category point.
        direct_va = out[1] if isinstance(out, tuple) else None
        scores = out[0] if isinstance(out, tuple) else out
        probs = (torch.softmax(scores, -1) if self.applies_softmax else scores) @ self.projection
        probs = probs / probs.sum(-1, keepdim=True)
        va = direct_va if direct_va is not None else probs @ self.coords
        return probs.numpy().astype(np.float32), va.numpy().astype(np.float32)
