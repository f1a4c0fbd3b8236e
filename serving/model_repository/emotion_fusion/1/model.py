"""Triton python backend for emotion_fusion: adapts tensors, calls emsync_models' FusionPredictor.

Triton's python backend hands over the dynamically batched requests as a list without stacking them:
this model concatenates their rows, runs one forward pass, and splits the outputs back per request.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from serving.triton_model import (
    check_identity,
    error_response,
    model_parameters,
    resolve_checkpoint,
)

# <repository>/<model>/<version>/model.py: relative checkpoints in config.pbtxt live in <repository>/<model>/.
# Nothing above the model repository is assumed: emsync (emsync_models, serving) is installed in the
# interpreter the python backend runs (the Triton image's, or the venv infra/triton.sh points at).
MODEL_DIR = Path(__file__).resolve().parents[1]

TRITON_TYPES = {"float32": "TYPE_FP32", "bool": "TYPE_BOOL"}


def load_predictor(params: dict[str, str]):  # noqa: ANN201 - FusionPredictor, imported late on purpose
    from emsync_models.emotion.predictor import FusionPredictor

    checkpoint = resolve_checkpoint(params.get("checkpoint", ""), MODEL_DIR)
    va_table = params.get("va_table") or "reference"   # category -> valence/arousal coordinates
    predictor = (FusionPredictor.default(va_table) if checkpoint is None
                 else FusionPredictor.from_checkpoint(checkpoint, va_table))
    check_identity(params, predictor.name, predictor.version, checkpoint)
    return predictor


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):  # noqa: ANN001, ANN205 - Triton's callback
        # Inputs come from the head itself, so config.pbtxt cannot disagree with emsync_models.
        predictor = load_predictor(model_parameters(auto_complete_model_config.as_dict()))
        for name, dtype, shape in predictor.input_spec():
            auto_complete_model_config.add_input(
                {"name": name, "data_type": TRITON_TYPES[dtype], "dims": list(shape), "optional": True})
        return auto_complete_model_config

    def initialize(self, args: dict) -> None:
        from emsync_models.threads import apply_threads

        params = model_parameters(json.loads(args["model_config"]))
        # Each instance is its own stub process: size all of its pools (torch, OpenMP/BLAS, OpenCV) once.
        apply_threads(int(params.get("torch_threads") or 1))
        self.predictor = load_predictor(params)
        self.input_names = [name for name, _, _ in self.predictor.input_spec()]

    def execute(self, requests: list) -> list:
        batches = []
        for request in requests:
            batch = {}
            for name in self.input_names:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is not None:
                    batch[name] = tensor.as_numpy()
            batches.append(batch)

        responses: list = [None] * len(requests)
        # Requests can carry different optional inputs; only identical key sets stack into one pass.
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, batch in enumerate(batches):
            groups.setdefault(tuple(sorted(batch)), []).append(i)
        for keys, members in groups.items():
            try:
                if not keys:
                    raise ValueError(f"no inputs; expected some of {self.input_names}")
                stacked = {k: np.concatenate([batches[i][k] for i in members]) for k in keys}
                probs, va = self.predictor(stacked)
                start = 0
                for i in members:
                    rows = next(iter(batches[i].values())).shape[0]
                    responses[i] = pb_utils.InferenceResponse(output_tensors=[
                        pb_utils.Tensor("PROBS", np.ascontiguousarray(probs[start:start + rows], np.float32)),
                        pb_utils.Tensor("VALENCE_AROUSAL", np.ascontiguousarray(va[start:start + rows], np.float32)),
                    ])
                    start += rows
            except Exception as exc:  # noqa: BLE001 - becomes this group's error response, not a crash
                for i in members:
                    responses[i] = error_response(pb_utils, exc)
        return responses
