"""The music models by name, each with its own defaults; which one a job gets when it names none.

Torch-free (the generators are imported only by `load`), so that settings, the CLI, the catalog and the
Triton wire can resolve a job's parameters (checkpoint, top-p) without loading a model.

Top-p: v2 samples from a narrower nucleus than v1. On the eval grid (3x3 valence/arousal, 8 seeds,
30 s, irregular cuts; 72 pieces each), top-p 0.8 against 0.95 cut semitone clashes from 0.136 to 0.116
and raised the rhythm's pulse clarity on its own beat from 0.769 to 0.809 (the corpus: 0.813), arousal
-> density rho from 0.84 to 0.87, with harmony change at cuts (0.91 / 0.92), valence -> mode rho
(0.81 / 0.82) and every cell's density inside the corpus's range either way. v1 keeps the reference's
0.95, so that its stored jobs keep their parameters and objects.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emsync_models.music.request import MusicGenerator

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what users, settings and job records call it
    checkpoint: Path  # the committed default checkpoint
    top_p: float  # its own nucleus, used wherever a request leaves top-p unset
    loader: str  # "module:function", called with (checkpoint: Path | None) -> MusicGenerator
    summary: str

    def load(self, checkpoint: Path | None = None) -> MusicGenerator:
        module, function = self.loader.split(":")
        return getattr(importlib.import_module(module), function)(checkpoint)


V1 = ModelSpec("v1", CHECKPOINT_DIR / "music-small.pt", 0.95, "emsync_models.music.v1.generator:load_generator",
               "event tokens in seconds; frozen: reproduces stored v1 jobs token for token")
V2 = ModelSpec("v2", CHECKPOINT_DIR / "music-v2.pt", 0.8, "emsync_models.music.v2.generator:load_generator_v2",
               "beat grid with hit points: each kept cut on a downbeat with its new chord")
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (V1, V2)}

# The model a job gets when it names none (EMSYNC_MUSIC_MODEL unset).
DEFAULT_MODEL = "v2"


def spec(name: str) -> ModelSpec:
    """The registered model called `name`; ValueError naming the known ones otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown music model {name!r}; known: {', '.join(MODELS)}") from None


def load(name: str = DEFAULT_MODEL, checkpoint: Path | None = None) -> MusicGenerator:
    """The generator `name` from `checkpoint` (None: its committed default)."""
    return spec(name).load(checkpoint)


def file_sha256(path: Path) -> str:
    """A checkpoint's digest: its first 12 hex digits are the model version job identities carry."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
