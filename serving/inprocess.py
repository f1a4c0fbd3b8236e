"""The default implementation: the same emsync_models calls the Triton models make, in this process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from serving.client import InferenceClient, ModelInfo

if TYPE_CHECKING:
    from emsync_models.emotion.fused_input import FusedBatch
    from emsync_models.music.request import GenerationRequest, MusicGenerator


class InProcessClient(InferenceClient):
    """Loads each model on first use (a flow that only composes music never loads the classifier)."""

    backend = "inprocess"

    def __init__(self, emotion_checkpoint: Path | None = None, music_checkpoint: Path | None = None,
                 device: str = "cpu", music_model: str = "v2", min_gap_s: float | None = None) -> None:
        self.emotion_checkpoint = emotion_checkpoint
        self.music_checkpoint = music_checkpoint
        self.music_variant = music_model  # v1 | v2 (not `music_model`: that is the ModelInfo method)
        self.min_gap_s = min_gap_s  # cuts closer than this to the previous kept one merge (None: the model's own)
        self.device = device
        self._lock = threading.Lock()
        self._predictor: Any = None
        self._generator: MusicGenerator | None = None

    def _fusion(self) -> Any:  # noqa: ANN401 - FusionPredictor
        with self._lock:
            if self._predictor is None:
                from emsync_models.emotion.predictor import FusionPredictor

                self._predictor = (FusionPredictor.default() if self.emotion_checkpoint is None
                                   else FusionPredictor.from_checkpoint(self.emotion_checkpoint))
            return self._predictor

    def _music(self) -> MusicGenerator:
        with self._lock:
            if self._generator is None:
                from emsync_models.errors import InputError
                from emsync_models.music import registry

                if self.device != "cpu":
                    raise InputError(self.device, "only the cpu device is supported by the music generators")
                self._generator = registry.load(self.music_variant, self.music_checkpoint)
            if self.min_gap_s is not None:
                self._generator.min_gap_s = self.min_gap_s
            return self._generator

    def wait_ready(self) -> None:
        # Nothing to wait for: models load on first use, so a job that only analyses emotion never
        # needs the music checkpoint (a missing one is an InputError when music is composed).
        return None

    def predict_emotion(self, batch: FusedBatch) -> tuple[np.ndarray, np.ndarray]:
        return self._fusion()(batch)

    def generate_tokens(self, request: GenerationRequest) -> np.ndarray:
        return np.asarray(self._music().generate_tokens(request), dtype=np.int64)

    def generate_music(self, request: GenerationRequest) -> Any:  # noqa: ANN401 - GeneratedMusic(V2)
        return self._music().generate(request)

    def emotion_model(self) -> ModelInfo:
        p = self._fusion()
        return ModelInfo(p.name, p.version)

    def music_model(self) -> ModelInfo:
        g = self._music()
        return ModelInfo(g.name, g.version)

    # In-process, the adapters are the library objects themselves: the default path stays exactly
    # what emsync_models does on its own.
    def emotion_predictor(self) -> Any:  # noqa: ANN401 - FusionPredictor
        return self._fusion()

    def music_generator(self) -> MusicGenerator:
        return self._music()
